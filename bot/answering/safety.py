"""Output filtering for model-written text, before anyone sees it (partial or final).

What this module owns: `clean_output(text)`, a pure function that

* neutralises mentions: mass pings (`@everyone`, `@here`, `@channel`, Slack `<!channel>`,
  `<!here>`, `<!everyone>`, user groups `<!subteam^ID>`), Discord role pings `<@&ID>` and
  user pings `<@ID>`. Who gets pinged is the core's decision (`Reply.mentions`), never the
  model's, so a passage or question saying "ping @everyone" cannot make the bot do it;
* replaces anything shaped like a credential with `[redacted]`: Slack `xox?-` and `xapp-`
  tokens, OpenAI `sk-` keys, Discord bot tokens, JWTs, AWS access key ids, GitHub and Google
  keys, PEM private keys, and long random-looking values right after "token", "key",
  "secret", "password" or "Bearer". A model can only repeat what it was shown, but the
  knowledge folder is written by people who sometimes paste a real token into a runbook.

Adapters still escape mentions when rendering; this is the answerer's own line of defence,
and it also covers the streamed partial text, which adapters post before the final reply.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

# -- mentions ------------------------------------------------------------------------------

# Slack special mentions, optionally with a label: <!here>, <!channel|channel>, <!everyone>.
_SLACK_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>", re.IGNORECASE)
# Slack user groups: <!subteam^S0123|@support>; show the label without its @, or a placeholder.
_SLACK_GROUP = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|@?([^>]*))?>", re.IGNORECASE)
# Discord roles <@&123>, users <@123> / <@!123>, Slack users <@U0123> / <@U0123|name>.
_ROLE = re.compile(r"<@&\d+>")
_USER = re.compile(r"<@!?[A-Z0-9]+(?:\|[^>]*)?>", re.IGNORECASE)
# Plain-text mass pings; not inside a word or an e-mail address ("ops@here.example").
_AT_MASS = re.compile(r"(?<![\w@.])[@＠](everyone|here|channel)\b", re.IGNORECASE)


def neutralise_mentions(text: str) -> str:
    text = _SLACK_SPECIAL.sub(lambda m: m.group(1).lower(), text)
    text = _SLACK_GROUP.sub(lambda m: (m.group(1) or "").strip() or "[group]", text)
    text = _ROLE.sub("[role]", text)
    text = _USER.sub("[user]", text)
    return _AT_MASS.sub(lambda m: m.group(1), text)


# -- secrets -------------------------------------------------------------------------------

_B = r"(?<![A-Za-z0-9_\-])"  # a token starts at a boundary: "task-..." is not an sk- key
_E = r"(?![A-Za-z0-9_\-])"
_SECRETS = [
    # Slack bot/user/app-level tokens. Requiring a digit spares placeholders like "xoxb-<your token>".
    re.compile(_B + r"xox[abeposr]-(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{10,}"),
    re.compile(_B + r"xapp-(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{10,}"),
    # OpenAI keys, legacy and project/service-account forms.
    re.compile(_B + r"sk-(?:proj-|svcacct-|admin-|ant-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}" + _E),
    # Discord bot tokens: base64 user id . timestamp . HMAC.
    re.compile(_B + r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}" + _E),
    # JWTs (header.payload.signature), e.g. bearer tokens copied from a browser.
    re.compile(_B + r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}" + _E),
    # AWS access key ids, GitHub tokens, Google API keys.
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"),
    re.compile(_B + r"(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{30,}" + _E),
    re.compile(_B + r"AIza[0-9A-Za-z_-]{35}" + _E),
    # PEM private keys: the whole block (a header merely mentioned in prose is left alone;
    # streamed partial text is handled by redact_secrets(partial=True))
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
]
_PEM_OPEN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:(?!-----END).)*\Z", re.DOTALL)
# A long random-looking value right after a word that announces a secret: "token: 8f3a...",
# "API key = ...", "Authorization: Bearer ...". The value must mix letters and digits, so an
# environment variable's name ("key: OPENAI_API_KEY") is left readable.
# "key" alone is not a label: documentation is full of cache keys, primary keys and YAML keys.
_LABELLED = re.compile(
    r"(?P<label>\b(?:token|api[\s_-]?key|secret|client[\s_-]?secret|password|passwd|bearer|authorization)\b"
    r"(?:[\s\"'`]*(?:is|was)?[\s\"'`]*[:=][\s\"'`]*|\s+(?:is|was)\s+[\"'`]?|\s+)(?:bearer\s+)?)"
    r"(?P<value>(?=[A-Za-z0-9+/_.=-]*\d)(?=[A-Za-z0-9+/_.=-]*[A-Za-z])[A-Za-z0-9+/_.=-]{20,})",
    re.IGNORECASE,
)


def _random_looking(value: str) -> bool:
    """Credentials are random: mixed case and digits, few separators. Identifiers such as
    `user_profile_v2_region_eu_west_1` are words joined by separators."""
    letters_digits = sum(ch.isalnum() for ch in value)
    separators = len(value) - letters_digits
    has_mix = (
        any(ch.isdigit() for ch in value)
        and any(ch.isupper() for ch in value)
        and any(ch.islower() for ch in value)
    )
    return has_mix or (separators <= len(value) // 10 and any(ch.isdigit() for ch in value))


def redact_secrets(text: str, *, partial: bool = False) -> str:
    """`partial`: the text is still being written, so an opened key block hides the rest."""
    for pattern in _SECRETS:
        text = pattern.sub(REDACTED, text)
    if partial:
        text = _PEM_OPEN.sub(REDACTED, text)
    return _LABELLED.sub(
        lambda m: m.group("label") + REDACTED if _random_looking(m.group("value")) else m.group(0), text
    )


def clean_output(text: str, *, partial: bool = False) -> str:
    """Model text made safe to post: no pings, no credentials."""
    return neutralise_mentions(redact_secrets(text, partial=partial))
