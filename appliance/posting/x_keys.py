"""The names of X's four OAuth 1.0a keys: one file each in the credentials directory."""

X_KEYS = ("x_consumer_key", "x_consumer_secret", "x_access_token", "x_access_token_secret")
