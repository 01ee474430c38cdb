"""Credential-shaped strings for the tests that check credentials never leak.

They are assembled at run time, so no token-shaped literal sits in the repository: secret
scanners stay quiet, and nobody can mistake a test value for a real one.
"""

SLACK_BOT_TOKEN = "-".join(["xoxb", "123456789012", "abcdefghijkl"])
SLACK_BOT_TOKEN_LONG = "-".join(["xoxb", "123456789012", "1234567890123", "AbCdEfGhIjKlMnOpQrStUvWx"])
SLACK_USER_TOKEN = "-".join(
    ["xoxp", "123456789012", "123456789012", "123456789012", "abcdef0123456789abcdef0123456789"]
)
OPENAI_KEY = "sk" + "-" + "abcdefghijklmnopqrstu1234"
OPENAI_KEY_LONG = "sk" + "-" + "abcdefghij1234567890ABCDEFGHIJ1234567890abcdefgh"
