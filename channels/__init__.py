"""Channel plugins: one package per channel (``sms``, ``wechat``, ``webhook``, ``led``,
``cinema``); ``base`` holds the contract, the other modules what two channels share."""
