"""Which delivery of an event a request is: Slack's retries, as the request's headers say.

Slack delivers an event again when it is not acknowledged (HTTP: no 2xx within 3 s; Socket
Mode: no ack of the envelope within 3 s, whose `retry_attempt` Bolt passes on as the same
header since 1.29): at once, after a minute and after five, `X-Slack-Retry-Num` 1 to
`LAST_RETRY`, each with its reason. After the last it gives up. It also turns an app's
events off, until someone turns them on again by hand, when fewer than 5% of its deliveries
in an hour got a 2xx in time: a store outage of an hour, every message event refused for
Slack to retry, would leave the bot deaf after it. So Slack's last try of an event is
acknowledged in time whatever happens to it (adapters/slack/events.py: a message the store
could not record; adapters/slack/http_events.py: an install that could not be read, any
other failure, or a store too slow to answer within `LAST_TRY_WITHIN`): Slack sends it no
more either way, and a message among them is held (adapters/slack/heard.py), which owes
the read-back that brings it back, as for a refused event whose retries all failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Slack's documented retries: immediately, after one minute, after five
LAST_RETRY = 3
# seconds within which the last try is answered over HTTP, whatever is slow (Slack waits 3)
LAST_TRY_WITHIN = 2.5

Headers = Mapping[str, Sequence[str]]  # Bolt's request headers: lower-cased names, lists of values


def retry_number(headers: Headers) -> int:
    """Which retry this delivery is: 0 for a first sending (or a number that is not one)."""
    values = headers.get("x-slack-retry-num") or [""]
    text = str(values[0]).strip()
    return int(text) if text.isdigit() and len(text) < 4 else 0


def retry_reason(headers: Headers) -> str | None:
    """Slack's reason for sending this again ("" if it gave none); None for a first sending
    (Bolt names a Socket Mode envelope's first sending retry 0)."""
    if retry_number(headers) == 0:
        return None
    reasons = headers.get("x-slack-retry-reason") or [""]
    return str(reasons[0])


def last_try(headers: Headers) -> bool:
    """Whether Slack will send this event no more, whatever the answer."""
    return retry_number(headers) >= LAST_RETRY
