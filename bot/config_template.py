"""The commented `supportbot.toml` that `supportbot init` writes.

Every key is shown with its default and a one-line explanation; a test checks that it
parses, that it names every setting, and that knowledge/configuration.md documents each.
"""

TEMPLATE = """\
# supportbot configuration. Every key is optional; the values shown are the defaults.
# Secrets never go here: tokens and API keys come from the environment
# (SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_SIGNING_SECRET, DISCORD_TOKEN, OPENAI_API_KEY).
# The full reference is knowledge/configuration.md.

[knowledge]
# Folder of Markdown / text / reStructuredText / HTML (/ PDF) files the bot answers from,
# relative to this file. Default: ./knowledge
# path = "knowledge"
# Files larger than this are skipped with a warning.
max_file_mb = 20.0
# A running bot re-reads changed files this often (seconds); 0: only at start and on /support reindex.
watch_seconds = 60
# Relative-path globs left out of the index, besides hidden files, _build/, _templates/, site/,
# node_modules/, conf.py and mkdocs.yml, which are always skipped. e.g. ["drafts/**", "*.txt"]
exclude = []
# A folder outside the knowledge folder that `--8<--`, `{* *}`, `.. include::` and
# `.. literalinclude::` may read from too (e.g. the repository root). Default: only the knowledge folder.
# include_root = ".."
# The address the documentation is published at, for citation links.
# base_url = "https://docs.example.com/"
# Walk linked folders (symbolic links) too. Either way a link whose target is outside the
# knowledge folder (or include_root, when following) is skipped and reported.
follow_symlinks = false

[answer]
# auto: use a language model when OPENAI_API_KEY or OPENAI_BASE_URL is set, else quote the docs.
# extractive: always quote the docs (offline). llm: always use the model.
mode = "auto"
# Below this retrieval confidence (0..1) the bot says it does not know and hands over to a person.
confidence_threshold = 0.5
# How many sources an answer cites at most.
max_sources = 3
# How many retrieved passages the answerer reads.
passages = 5
# Longer questions are refused with a clear message.
max_question_chars = 4000
# Questions answered at the same time (new ones and replays after a crash); more wait their turn.
workers = 8

[llm]
# Model name at the OpenAI-compatible endpoint (also SUPPORTBOT_LLM_MODEL).
model = "gpt-4o-mini"
# Total time one answer may take, and the time to connect, in seconds.
timeout_seconds = 60.0
connect_timeout_seconds = 5.0
# Retries on 429 and 5xx before falling back to quoting the docs.
max_retries = 2
temperature = 0.1
# How much of the thread's history goes into the prompt (tokens).
history_tokens = 1500
# The model is asked whenever retrieval is at least this sure, and judges the passages itself
# (it may reply that they do not answer). [answer] confidence_threshold gates quoted answers only.
min_confidence = 0.15
# How much documentation (whole sections, best first) goes into the prompt (tokens).
context_tokens = 4000
# The longest answer the model may write (tokens); a longer one is cut and marked unfinished.
# 0 sends no limit (for models that refuse max_tokens, such as OpenAI's reasoning models).
max_tokens = 1024
# Hybrid retrieval with the endpoint's /v1/embeddings.
embeddings = false
embedding_model = "text-embedding-3-small"
# Model answers per user and per channel per hour (0 = unlimited).
user_rate_per_hour = 30
channel_rate_per_hour = 300

[slack]
# How channels behave unless listed below: auto-answer, mention-only or off.
default_mode = "mention-only"
# Which documents channels may use: internal (all) or public (public documents only).
default_visibility = "internal"
dm_visibility = "internal"
# Staff to tag when a question is escalated: user group ids (S...) and/or user ids (U...).
staff_groups = []
staff_users = []
# Tagged when a ticket still has no response after the second deadline.
second_tier_groups = []
second_tier_users = []
# Tagged at once outside business hours (otherwise the ping waits for opening time).
oncall_groups = []
oncall_users = []
# Admins may run admin commands; workspace admins/owners count too unless disabled.
admin_users = []
admin_groups = []
workspace_admins_are_admins = true
# Channel id where a card is posted for each new ticket (optional).
# triage_channel = "C0123456789"
# With SLACK_CLIENT_ID (several workspaces): the public address of /slack/oauth_redirect.
oauth_redirect_url = ""
slash_command = "/support"
# Down (or its Socket Mode connection down) longer than this, the bot reads back on return
# what was said meanwhile; Slack's own retries cover a shorter gap. 0 always reads back.
read_back_after_seconds = 60

# Per-channel settings, by channel id:
# [slack.channels.C0123456789]
# mode = "auto-answer"
# visibility = "public"
# staff_groups = ["S0BILLING"]   # tag these for tickets from this channel instead
# staff_users = []

# Installed in several workspaces: a workspace's own triage channel, channels, staff and
# admins, by team id (anything not named comes from [slack]).
# workspaces = {}
# [slack.workspaces.T0PARTNER]
# staff_groups = ["S0PARTNERS"]
# triage_channel = "C0PARTNERTRIAGE"

[discord]
default_mode = "mention-only"
default_visibility = "public"
dm_visibility = "public"
# Role ids to tag on escalation, and user ids.
staff_roles = []
staff_users = []
second_tier_roles = []
second_tier_users = []
oncall_roles = []
oncall_users = []
# Role ids and user ids that may run admin commands; members with Manage Server count too.
admin_roles = []
admin_users = []
manage_server_is_admin = true
# Forum channel ids whose new posts are answered.
forum_channels = []
# Guild ids to sync slash commands to instantly; empty = global (can take up to an hour).
command_guilds = []
# triage_channel = "123456789012345678"
# Gateway shards, for a bot in thousands of servers: a number, or "auto" (Discord's count).
shards = 1
# With several workers on PostgreSQL: shards per worker (0 = one worker holds all of them).
shards_per_worker = 0

# [discord.channels."123456789012345678"]
# mode = "auto-answer"
# visibility = "public"
# staff_roles = ["234567890123456789"]
# staff_users = []

# A server's own triage channel, staff and admins, by guild id (the rest comes from [discord]).
# workspaces = {}
# [discord.workspaces."123456789012345678"]
# staff_roles = ["345678901234567890"]

[console]
# Your name in `supportbot chat`, which documents it may use, and who counts as staff there.
user = "you"
visibility = "internal"
staff_users = ["staff"]

[escalation]
# Working minutes before an unclaimed ticket is announced to staff again,
first_response_minutes = 15
# then before it goes to the second tier,
second_tier_minutes = 30
# and before the assignee of a claimed ticket is reminded when the team has gone quiet.
claimed_idle_minutes = 120
# Days after resolution during which the asker's reply reopens the ticket.
reopen_days = 7
# When the team is in. Empty: always. Outside these hours the staff ping waits (or goes on call).
business_hours = ""   # e.g. "09:00-18:00"
business_days = ["mon", "tue", "wed", "thu", "fri"]   # or ["mon-fri"], ["sun-thu"]
timezone = "UTC"      # e.g. "Asia/Seoul"
# Ask the asker to rate the help after a ticket is resolved.
ask_rating = true

# Route tickets by the tag of the best-matching document (front matter `tags`):
# [escalation.tags.billing]
# slack_staff_groups = ["S0BILLING"]
# slack_staff_users = []
# discord_staff_roles = ["345678901234567890"]
# discord_staff_users = []

[insights]
# An answer with no follow-up, ticket or "not helpful" within this many hours is an assumed resolution.
assume_after_hours = 24
# The weekly digest: a Slack channel id, a Discord channel id, or "platform:channel". Empty: none.
digest_channel = ""
digest_weekday = "mon"
digest_hour = 9       # in the [escalation] time zone
# This many different people asking similar questions within the window raise one alert.
burst_window_minutes = 30
burst_min_askers = 5
burst_cooldown_minutes = 120
# A dismissed knowledge gap shows again after this many new asks.
gap_reopen_asks = 3

[followup]
# Ask "Did this solve it?" once, this many hours after an answer nobody replied to. 0: never.
after_hours = 24

[privacy]
# Replaced by a placeholder before storing or sending to a model: email, phone, card, token, iban.
redact = ["card", "token"]
# Days message text is kept; counts for reports stay. 0: forever.
retention_days = 90
# Limits of what is remembered about people who turn memory on (/support remember on).
memory_facts = 12
memory_chars = 1500

# Audiences: documents with `audience: [customers]` are seen only by these people.
# [audiences.customers]
# slack_groups = ["S0PAYING"]
# slack_users = []
# discord_roles = ["456789012345678901"]
# discord_users = []

[journey]
# Welcome a member's first question once, with links to these documents.
welcome = false
welcome_docs = ["getting-started.md"]

[store]
# Keep state (conversations, tickets, the inbox) in PostgreSQL instead of state.db in the data
# directory. SUPPORTBOT_DATABASE_URL overrides it; better there, as the URL holds a password.
# url = "postgresql://supportbot:PASSWORD@localhost/supportbot"

[dashboard]
# The web dashboard under /admin (knowledge/dashboard.md). Sign in with the link that
# `supportbot dashboard --link --user ID` prints; `supportbot dashboard` serves it alone.
enabled = false
# With it on, `supportbot run` serves it beside its adapters (claim and resolve then post in
# the chat thread): under /admin on Slack's port in HTTP mode, else here. Loopback by default:
# put a TLS proxy in front to reach it from elsewhere.
host = "127.0.0.1"
port = 8090
# The address people open it at (behind a TLS proxy: the https one). Sign in with Slack /
# Discord return to it; empty means http://host:port.
public_url = ""
# Sign in with Discord: the server whose roles count (empty: the only command_guilds entry).
discord_guild = ""

[run]
# The CPU `supportbot run` keeps its Python threads on: "auto" picks one and moves off it when
# other programs keep it busy; a number (0, 1, ...) pins there; "off" lets them float. Together
# on one CPU, the threads hand work to each other much faster. For one CPU per worker, see
# knowledge/deployment.md (systemd's CPUAffinity=, Docker's cpuset).
cpu = "auto"
"""
