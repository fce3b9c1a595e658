"""WeChat official accounts through wechatpy."""

from channels.wechat.channel import WeChatChannel

__all__ = ["WeChatChannel"]
