"""People who use the web app and the API: users, roles, passwords, tokens and their names."""
