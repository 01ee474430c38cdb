"""Event throughput: the product against a bare slack-bolt / discord.py bot, 1 to 256 events in flight.

    python bench/event_throughput.py [--quick] [--platform slack|discord|both] [--json FILE]
        [--bots product,anchor,floor] [--no-profile] [--cpu auto|off]

For each platform, one local fake server (tests/fakes/slack_server.py or discord_server.py) runs
in this process together with the load driver. The bot under test runs in a child process of its
own (this same file with `--sut`), so the fake's work is not charged to the bot's CPU:

* **product**: the real adapter and core (`build_runtime` + `build_adapter`, set up exactly as
  bench/slack_latency.py and bench/discord_latency.py do: extractive answerer, `knowledge/`, a
  fresh data directory), its Python threads kept on one CPU as `supportbot run` keeps them
  (`[run] cpu = "auto"`, bot/cpu_affinity.py; `--cpu off` lets them float, to compare);
* **anchor**: the least a bot on the same library does. Slack: a slack-bolt `AsyncApp` in Socket
  Mode whose `app_mention` listener (Bolt acks the envelope) posts one fixed reply in the thread
  with chat.postMessage. Discord: a discord.py `Client` that replies with one fixed message to
  each MESSAGE_CREATE (its own messages, which the fake echoes, are ignored). Both get one
  shared aiohttp session, as the product's Slack client does;
* **floor**: the anchor, which before its one reply does the retrieval every question costs the
  product, through the product's own code: the knowledge service of `build_asking` (the folder's
  index synced into a fresh data directory from the settings the product bot gets, and the
  service wired as `build_runtime` wires it; no store, no answerer called), and for each event
  `KnowledgeService.search_widened` on that service's one knowledge thread, with the arguments
  `AnswerPipeline.ask` gives it for an ordinary question (the query without the mention,
  secrets and placeholders; the scope and audiences `policy` gives the asker; k and widen as the
  extractive answerer's). On Discord it also replies where the product does: in a thread it
  starts from the question (named as `DiscordChannel.open_thread` names it), two requests as
  the product's two, where the anchor replies in the channel. What is between the floor and the
  anchor is that work alone; the product's target (0.5x the anchor) is judged against it,
  measured in the same run.

The driver keeps N events in flight (N workers; each sends its next event when the previous one
is answered): Slack `app_mention` envelopes over Socket Mode, Discord MESSAGE_CREATE mentions
over the gateway. Latency is from just before the event is sent to the moment the fake has
recorded the bot's first successful reply for it (Slack: chat.postMessage in the event's
thread; Discord: the first message posted in the thread started from the message, or the
anchor's reply referencing it). Each run is bounded in events and in seconds; after each run
the driver waits until the fake has seen no request for 0.3 s, so the product's follow-up calls
(the thinking reaction coming off) do not leak into the next run.

Repeats rotate which bot goes first; the table shows medians over repeats. With py-spy
installed, one more product run at 8 in flight is sampled, and the top functions are printed.
Everything is loopback; events, users and questions are fixed (seeded).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime
import inspect
import itertools
import json
import os
import platform as platform_module
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repository root: bench.*, tests.fakes.*

import psutil  # noqa: E402

from adapters.discord.render import thread_name  # noqa: E402
from bench import discord_latency, slack_latency  # noqa: E402
from bot import policy  # noqa: E402
from bot.answering.pipeline import AnswerPipeline  # noqa: E402
from bot.answering.secrets import redact_secrets  # noqa: E402
from bot.app import build_asking, build_runtime  # noqa: E402
from bot.channel_types import Platform, Visibility  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from bot.config_run import CpuSetting  # noqa: E402
from bot.cpu_affinity import CpuKeeper  # noqa: E402
from bot.privacy.redaction import without_placeholders  # noqa: E402
from bot.types import Author, ConversationRef, SearchResult  # noqa: E402

LEVELS = (1, 8, 64, 256)
SEED = 20261129
REPLY = "Thanks, we got your question."
NOTHING_FOUND = "Thanks, we got your question; nothing in the documentation matched it."
FIXED_REPLIES = {REPLY: "fixed", NOTHING_FOUND: "nothing found"}  # the anchor's and the floor's
BOTS = ("product", "anchor", "floor")
SUT_LIFETIME_S = 900.0  # a bot under test stops by itself after this, whatever the driver does
EVENT_TIMEOUT_S = 60.0
SETTLE_QUIET_S = 0.3
DISCORD_CHANNELS = 32  # see DiscordTarget
PROFILE_RATE = 100  # py-spy samples per second (it pauses the process for each sample)

# events per run and the time cap per run, by level
FULL = {"events": {1: 150, 8: 400, 64: 640, 256: 1024}, "seconds": 20.0, "repeats": 3, "profile_s": 8.0}
PRODUCT_CPU: CpuSetting = "auto"  # --cpu: the product's [run] cpu
QUICK = {"events": {1: 20, 8: 80, 64: 128, 256: 256}, "seconds": 8.0, "repeats": 1, "profile_s": 3.0}


# -- the bots under test (child processes) -----------------------------------------------------


async def _until_stopped(ready: Callable[[], None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    ready()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), SUT_LIFETIME_S)


def _announce_ready() -> None:
    print("READY", flush=True)


def _keep_cpu() -> CpuKeeper:
    """The CPU the product's Python threads share, kept as `supportbot run` keeps it once its
    runtime is built (bot/cli.py), with `--cpu` for `[run] cpu` (default "auto" in both)."""
    keeper = CpuKeeper(PRODUCT_CPU)
    keeper.start()
    return keeper


async def _slack_product(info: dict[str, Any]) -> None:
    from adapters.slack import build_adapter

    with tempfile.TemporaryDirectory(prefix="supportbot-throughput-") as tmp:
        # slack_latency._runtime only reads these three attributes of the fake
        runtime = slack_latency._runtime(SimpleNamespace(**info), Path(tmp), None)  # type: ignore[arg-type]
        keeper = _keep_cpu()
        adapter = build_adapter(runtime.bot, runtime.settings)
        task = asyncio.create_task(adapter.run())
        try:
            await asyncio.wait_for(adapter.ready.wait(), 30)
            await _until_stopped(_announce_ready)
        finally:
            await adapter.close()
            await task
            keeper.stop()
            runtime.close()


_MENTION = re.compile(r"<@!?[A-Za-z0-9]+(?:\|[^>]*)?>")


class Retrieval:
    """The floor's per-question work: the product's retrieval, and nothing else of its answer path."""

    def __init__(self, settings: Settings, observed: Visibility) -> None:
        self.settings = settings
        # the index opened and synced as build_runtime does, behind a KnowledgeService built as
        # SupportBot builds it; build_asking does both without opening a state store
        self.asking = build_asking(settings)
        if self.asking.answers.fallback is not None:
            raise RuntimeError("the floor mirrors the extractive answer path; a model is configured")
        # AnswerPipeline.ask's own default k (the Responder passes none), so the two cannot drift
        k: int = inspect.signature(AnswerPipeline.ask).parameters["k"].default
        self.k = max(k, settings.answer.passages)
        self.widen = settings.answer.passages  # the extractive answerer's sections
        # the channel's visibility as the product's adapter reports it for the fake's channels
        # (the floor makes no lookup for it: the anchor makes none)
        self.observed = observed

    async def __call__(self, text: str, conversation: ConversationRef, author: Author) -> SearchResult:
        question = _MENTION.sub("", text).strip()
        scope = policy.document_scope(self.settings, conversation, self.observed, author)
        audiences = policy.audiences(author, conversation.platform, self.settings)
        query = without_placeholders(redact_secrets(question))
        result, _sections = await self.asking.service.search_widened(
            query, scope, self.k, widen=self.widen, audiences=audiences
        )
        return result

    async def aclose(self) -> None:
        await self.asking.aclose()
        self.asking.close()


def _slack_settings(info: dict[str, Any], workdir: Path) -> Settings:
    """The settings slack_latency._runtime gives the product bot (it builds the runtime from them
    in the same call, so they are made here the same way)."""
    env = {
        "SLACK_BOT_TOKEN": info["bot_token"],
        "SLACK_APP_TOKEN": info["app_token"],
        "SLACK_API_URL": info["api_url"],
    }
    config = workdir / "supportbot.toml"
    config.write_text("", encoding="utf-8")
    return load_settings(
        config=config, knowledge=ROOT / "knowledge", data=workdir / "data", env=env, cwd=workdir
    )


async def _slack_anchor(info: dict[str, Any], retrieval: Retrieval | None = None) -> None:
    import aiohttp
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=info["bot_token"], base_url=info["api_url"], session=session)
        app = AsyncApp(client=client)

        @app.event("app_mention")
        async def on_mention(event: dict[str, Any], client: AsyncWebClient) -> None:
            text = REPLY
            if retrieval is not None:
                conversation = ConversationRef(
                    platform=Platform.SLACK, workspace=event.get("team", ""), channel=event["channel"]
                )
                found = await retrieval(event["text"], conversation, Author(id=event["user"]))
                text = REPLY if found.passages else NOTHING_FOUND
            await client.chat_postMessage(channel=event["channel"], thread_ts=event["ts"], text=text)

        handler = AsyncSocketModeHandler(app, app_token=info["app_token"], web_client=client)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        try:
            await _until_stopped(_announce_ready)
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]


async def _slack_floor(info: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="supportbot-throughput-") as tmp:
        # the fake's C111 is a plain channel: the product's directory reports it internal
        retrieval = Retrieval(_slack_settings(info, Path(tmp)), Visibility.INTERNAL)
        try:
            await _slack_anchor(info, retrieval)
        finally:
            await retrieval.aclose()


async def _discord_product(info: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="supportbot-throughput-") as tmp:
        # settings_for only reads token, api_base, guild_id and staff_role_id of the fake
        settings = discord_latency.settings_for(SimpleNamespace(**info), Path(tmp), None)  # type: ignore[arg-type]
        runtime = build_runtime(settings)
        keeper = _keep_cpu()
        adapter, task = await discord_latency.start(runtime)
        try:
            await _until_stopped(_announce_ready)
        finally:
            await adapter.close()
            await asyncio.gather(task, return_exceptions=True)
            keeper.stop()
            runtime.close()


async def _discord_anchor(
    info: dict[str, Any], retrieval: Retrieval | None = None, in_thread: bool = False
) -> None:
    import discord

    from tests.fakes.discord_server import point_discord_py_at

    point_discord_py_at(info["api_base"], info["gateway_url"])
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    client = discord.Client(intents=intents)

    @client.event
    async def on_message(message: discord.Message) -> None:
        if client.user is not None and message.author.id == client.user.id:
            return  # the fake echoes the bot's own messages, as Discord does
        text = REPLY
        if retrieval is not None:
            conversation = ConversationRef(
                platform=Platform.DISCORD,
                workspace=str(message.guild.id) if message.guild is not None else "dm",
                channel=str(message.channel.id),
            )
            roles = frozenset(str(role.id) for role in getattr(message.author, "roles", ()))
            asker = Author(id=str(message.author.id), is_bot=message.author.bot, roles=roles)
            found = await retrieval(message.content, conversation, asker)
            text = REPLY if found.passages else NOTHING_FOUND
        if in_thread:  # the floor: where the product answers, a thread started from the question
            thread = await message.create_thread(name=thread_name(_MENTION.sub("", message.content)))
            await thread.send(text)
        else:
            await message.reply(text, mention_author=False)

    task = asyncio.create_task(client.start(info["token"]))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 30)
        await _until_stopped(_announce_ready)
    finally:
        await client.close()
        await asyncio.gather(task, return_exceptions=True)


async def _discord_floor(info: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="supportbot-throughput-") as tmp:
        # everyone can read the fake's channels, and Discord channels default to public anyway
        settings = discord_latency.settings_for(SimpleNamespace(**info), Path(tmp), None)  # type: ignore[arg-type]
        retrieval = Retrieval(settings, Visibility.PUBLIC)
        try:
            await _discord_anchor(info, retrieval, in_thread=True)
        finally:
            await retrieval.aclose()


SUTS: dict[tuple[str, str], Callable[[dict[str, Any]], Coroutine[Any, Any, None]]] = {
    ("slack", "product"): _slack_product,
    ("slack", "anchor"): _slack_anchor,
    ("slack", "floor"): _slack_floor,
    ("discord", "product"): _discord_product,
    ("discord", "anchor"): _discord_anchor,
    ("discord", "floor"): _discord_floor,
}


# -- the driver: fake + load in this process ---------------------------------------------------


class _Tap(list[Any]):
    """The fake's journal list, calling `on_item` on each append: replies are matched in O(1)
    per request instead of every waiter rescanning the journal on every request."""

    def __init__(self, items: list[Any], on_item: Callable[[Any], None]) -> None:
        super().__init__(items)
        self._on_item = on_item

    def append(self, item: Any) -> None:
        super().append(item)
        self._on_item(item)


class Target:
    """One platform's fake, the bot under test's connection details, and how to send an event
    and recognise its reply."""

    platform: str
    fake: Any

    def __init__(self) -> None:
        self.pending: dict[str, asyncio.Future[tuple[float, Any]]] = {}
        self.last_request = time.perf_counter()
        self.methods: collections.Counter[str] = collections.Counter()
        rng = random.Random(SEED)
        self.order = [rng.randrange(len(self.questions)) for _ in range(4096)]

    questions: tuple[str, ...] = ()

    def question(self, n: int) -> str:
        return self.questions[self.order[n % len(self.order)]]

    def _seen(self, key: str | None, item: Any) -> None:
        if key is None:
            return
        future = self.pending.pop(key, None)
        if future is not None and not future.done():
            future.set_result((time.perf_counter(), item))

    def info(self) -> dict[str, Any]:
        raise NotImplementedError

    async def one(self, n: int) -> tuple[float, str]:
        raise NotImplementedError

    async def settle(self, cap: float = 30.0) -> None:
        """Wait until the fake has seen no request for SETTLE_QUIET_S (at most `cap` s)."""
        deadline = time.perf_counter() + cap
        while time.perf_counter() < deadline:
            quiet = time.perf_counter() - self.last_request
            if quiet >= SETTLE_QUIET_S:
                return
            await asyncio.sleep(SETTLE_QUIET_S - quiet)


class SlackTarget(Target):
    platform = "slack"
    questions = slack_latency.QUESTIONS

    def __init__(self, fake: Any) -> None:
        super().__init__()
        self.fake = fake
        for user in slack_latency.USERS:
            fake.add_user(user, f"user-{user.lower()}")
        fake._calls.items = _Tap(fake._calls.items, self._on_call)

    def _on_call(self, call: Any) -> None:
        self.last_request = time.perf_counter()
        self.methods[call.method] += 1
        if call.method == "chat.postMessage" and call.ok:
            self._seen(call.params.get("thread_ts"), call)

    def info(self) -> dict[str, Any]:
        return {
            "bot_token": self.fake.bot_token,
            "app_token": self.fake.app_token,
            "api_url": self.fake.api_url,
        }

    async def one(self, n: int) -> tuple[float, str]:
        users = slack_latency.USERS
        body = self.fake.user_message("C111", self.question(n), user=users[n % len(users)], mention=True)
        ts = body["event"]["ts"]
        future = asyncio.get_running_loop().create_future()
        self.pending[ts] = future
        started = time.perf_counter()
        try:
            await self.fake.socket_send("events_api", body, timeout=EVENT_TIMEOUT_S)
            done, call = await asyncio.wait_for(future, EVENT_TIMEOUT_S)
        finally:
            self.pending.pop(ts, None)
        kind = FIXED_REPLIES.get(call.params.get("text")) or slack_latency._kind(call)
        return done - started, kind


_MESSAGES_PATH = re.compile(r"/channels/(\d+)/messages")


class DiscordTarget(Target):
    platform = "discord"
    questions = discord_latency.QUESTIONS

    def __init__(self, fake: Any) -> None:
        super().__init__()
        self.fake = fake
        fake.requests = _Tap(fake.requests, self._on_request)
        # Events are spread over DISCORD_CHANNELS text channels (added before any bot connects,
        # so they arrive in GUILD_CREATE). In one channel, every reply shares one rate-limit
        # bucket, and discord.py's client-side limiter (the fake grants 50 requests a second
        # per bucket) holds back anything past 50 concurrent requests: the anchor then measures
        # that limiter, not the bot.
        self.channels = [fake.text_channel_id] + [
            fake.add_channel(f"support-{n}", 0)["id"] for n in range(1, DISCORD_CHANNELS)
        ]

    def _on_request(self, request: Any) -> None:
        self.last_request = time.perf_counter()
        self.methods[f"{request.method} {request.template}"] += 1
        if request.method != "POST" or request.status != 200:
            return
        match = _MESSAGES_PATH.fullmatch(request.path)
        if match is None:
            return
        channel = match.group(1)
        if channel in self.pending:  # the product: first post in the thread named after the message
            self._seen(channel, request)
        elif isinstance(request.json, dict):  # the anchor and floor: a reply referencing the message
            reference = request.json.get("message_reference") or {}
            self._seen(str(reference.get("message_id")), request)

    def info(self) -> dict[str, Any]:
        fake = self.fake
        return {
            "token": fake.token,
            "api_base": fake.api_base,
            "gateway_url": fake.gateway_url,
            "guild_id": fake.guild_id,
            "staff_role_id": fake.staff_role_id,
        }

    async def one(self, n: int) -> tuple[float, str]:
        channel = self.channels[n % len(self.channels)]
        payload = self.fake.build_message_create(self.question(n), channel_id=channel, mention_bot=True)
        key = payload["id"]
        future = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        started = time.perf_counter()
        try:
            await self.fake.dispatch("MESSAGE_CREATE", payload)
            done, request = await asyncio.wait_for(future, EVENT_TIMEOUT_S)
        finally:
            self.pending.pop(key, None)
        fixed = FIXED_REPLIES.get(request.json.get("content"))
        if fixed is not None:
            return done - started, fixed
        return done - started, "answered" if discord_latency.is_answer(request) else "escalated"


@dataclass
class LevelRun:
    bot: str
    level: int
    repeat: int
    events: int
    wall_s: float
    latencies_ms: list[float] = field(repr=False)
    kinds: dict[str, int]
    bot_cpu_s: float
    driver_cpu_s: float
    requests_per_event: float

    @property
    def rate(self) -> float:
        return self.events / self.wall_s

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def run_level(
    target: Target, bot: str, proc: psutil.Process, level: int, events: int, seconds: float, repeat: int
) -> LevelRun:
    numbers = itertools.count()
    latencies: list[float] = []
    kinds: collections.Counter[str] = collections.Counter()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            n = next(numbers)
            if n >= events:
                return
            latency, kind = await target.one(repeat * 100_000 + level * 1000 + n)
            latencies.append(latency * 1000)
            kinds[kind] += 1

    requests_before = sum(target.methods.values())
    bot_cpu = sum(proc.cpu_times()[:2])
    driver_cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(level)))
    wall = time.perf_counter() - started
    bot_cpu = sum(proc.cpu_times()[:2]) - bot_cpu
    driver_cpu = time.process_time() - driver_cpu
    await target.settle()
    done = len(latencies)
    return LevelRun(
        bot=bot,
        level=level,
        repeat=repeat,
        events=done,
        wall_s=wall,
        latencies_ms=latencies,
        kinds=dict(kinds),
        bot_cpu_s=bot_cpu,
        driver_cpu_s=driver_cpu,
        requests_per_event=(sum(target.methods.values()) - requests_before) / max(1, done),
    )


class Sut:
    """A bot under test in its own process."""

    def __init__(self, target: Target, bot: str, log_dir: Path, prefix: Sequence[str] = ()) -> None:
        self.target = target
        self.bot = bot
        self.log_path = log_dir / f"{target.platform}-{bot}-{time.monotonic_ns()}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.prefix = tuple(prefix)  # a command the bot runs under (bench/event_instructions.py: valgrind)

    async def __aenter__(self) -> Sut:
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        for name in list(env):  # the fake's details are passed explicitly; nothing else leaks in
            if name.startswith(("SUPPORTBOT_", "SLACK_", "DISCORD_", "OPENAI_")):
                del env[name]
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.prefix,
                sys.executable,
                str(Path(__file__).resolve()),
                "--sut",
                self.bot,
                "--platform",
                self.target.platform,
                "--connect",
                json.dumps(self.target.info()),
                "--cpu",
                PRODUCT_CPU,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=env,
                cwd=tempfile.gettempdir(),
            )
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        except TimeoutError:
            line = b""
        if line.strip() != b"READY":
            await self.stop()
            raise RuntimeError(f"{self.target.platform} {self.bot} did not start:\n{self.log_tail()}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


async def warm_up(target: Target) -> None:
    """First lookups, first searches, connection pools: 16 events, 4 in flight."""
    numbers = iter(range(16))

    async def worker() -> None:
        for n in numbers:
            await target.one(900_000 + n)

    await asyncio.gather(*(worker() for _ in range(4)))
    await target.settle()


# -- profiling (py-spy, optional) --------------------------------------------------------------

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def _where(path: str) -> tuple[str, str]:
    """(short file name, package) for a frame's file: our code by folder, a library by its
    top-level package, the standard library by module."""
    root = str(ROOT) + os.sep
    parts = Path(path).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return "/".join(rest), rest[0].removesuffix(".py")
    if path.startswith(root):
        short = path[len(root) :]
        return short, str(Path(short).parent)
    lib = [i for i, part in enumerate(parts) if re.fullmatch(r"python3\.\d+", part)]
    rest = parts[lib[-1] + 1 :] if lib else parts[-1:]
    return "/".join(rest), "stdlib " + rest[0].removesuffix(".py")


def summarise_profile(raw: str, top: int = 10) -> dict[str, Any]:
    """From py-spy's collapsed stacks (GIL-holding samples only): the top functions by own
    samples, our own functions (bot/, adapters/) by samples that pass through them, and the
    share of own samples by package."""
    own: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    package: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        names: list[tuple[str, str]] = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame.strip())
            if match is None:
                continue
            short, pkg = _where(match["file"])
            names.append((f"{match['func']} ({short})", pkg))
        if not names:
            continue
        total += count
        own[names[-1][0]] += count
        package[names[-1][1]] += count
        for name in {n for n, pkg in names if pkg.startswith(("bot", "adapters"))}:
            ours[name] += count
    return {
        "samples": total,
        "own": own.most_common(top),
        "ours_inclusive": ours.most_common(top),
        "package": package.most_common(top),
    }


async def profile_product(
    target: Target, events: int, seconds: float, log_dir: Path
) -> dict[str, Any] | None:
    spy = shutil.which("py-spy")
    if spy is None:
        print("(py-spy not installed: no profile; `pip install py-spy` to get one)")
        return None
    out = log_dir / f"{target.platform}-product.pyspy.txt"
    async with Sut(target, "product", log_dir) as sut:
        await warm_up(target)
        proc = psutil.Process(sut.pid)
        spy_proc = subprocess.Popen(
            [
                *(spy, "record", "--pid", str(sut.pid), "--rate", str(PROFILE_RATE), "--format", "raw"),
                *("--duration", str(int(seconds) + 30), "--full-filenames", "--gil", "--output", str(out)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await asyncio.sleep(1.0)  # py-spy attaches
            run = await run_level(target, "product", proc, 8, events, seconds, repeat=99)
        finally:
            spy_proc.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(spy_proc.wait, 30)
            except subprocess.TimeoutExpired:
                spy_proc.kill()
                spy_proc.wait()
    if not out.exists():
        print("(py-spy could not sample the bot process: no profile)")
        return None
    summary = summarise_profile(out.read_text(encoding="utf-8", errors="replace"))
    summary["run"] = {"events": run.events, "events_per_s": run.rate, "p50_ms": run.pct(50)}
    return summary


# -- one platform ------------------------------------------------------------------------------


async def bench_platform(
    name: str, plan: dict[str, Any], log_dir: Path, profile: bool, bots: Sequence[str] = BOTS
) -> dict[str, Any]:
    if name == "slack":
        from adapters.slack.manifest import BOT_SCOPES
        from tests.fakes.slack_server import FakeSlack

        fake_cm: Any = FakeSlack(bot_scopes=BOT_SCOPES)
    else:
        from tests.fakes.discord_server import FakeDiscord

        fake_cm = FakeDiscord()
    runs: list[LevelRun] = []
    async with fake_cm as fake:
        target: Target = SlackTarget(fake) if name == "slack" else DiscordTarget(fake)
        for repeat in range(plan["repeats"]):
            # each bot goes first in turn: with two bots, they alternate
            first = repeat % len(bots)
            for bot in (*bots[first:], *bots[:first]):
                async with Sut(target, bot, log_dir) as sut:
                    await warm_up(target)
                    proc = psutil.Process(sut.pid)
                    for level in LEVELS:
                        run = await run_level(
                            target, bot, proc, level, plan["events"][level], plan["seconds"], repeat
                        )
                        runs.append(run)
                        print(
                            f"  {name} {bot:<7} repeat {repeat + 1} {level:>3} in flight: {run.events:>5} events "
                            f"{run.rate:>7.1f}/s p50 {run.pct(50):>7.1f} ms p99 {run.pct(99):>7.1f} ms",
                            flush=True,
                        )
        profiled = None
        if profile and "product" in bots:
            profiled = await profile_product(target, 100_000, plan["profile_s"], log_dir)
    return {"platform": name, "runs": runs, "profile": profiled}


def _median(runs: list[LevelRun], value: Callable[[LevelRun], float]) -> float:
    return statistics.median(value(r) for r in runs)


def summary_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per level, each bot's medians, and the product's and the floor's events/s over the
    anchor's (`ratio`, `floor_ratio`) and the product's over the floor's (`product_over_floor`)."""
    rows = []
    by = collections.defaultdict(list)
    for run in result["runs"]:
        by[run.bot, run.level].append(run)
    for level in LEVELS:
        if not by["anchor", level]:
            continue
        row: dict[str, Any] = {"level": level}
        for bot in BOTS:
            runs = by[bot, level]
            if not runs:
                continue
            row[bot] = {
                "events_per_s": _median(runs, lambda r: r.rate),
                "p50_ms": _median(runs, lambda r: r.pct(50)),
                "p99_ms": _median(runs, lambda r: r.pct(99)),
                "cpu_ms_per_event": _median(runs, lambda r: 1000 * r.bot_cpu_s / max(1, r.events)),
                "driver_cpu_ms_per_event": _median(runs, lambda r: 1000 * r.driver_cpu_s / max(1, r.events)),
                "requests_per_event": _median(runs, lambda r: r.requests_per_event),
                "events": sum(r.events for r in runs),
                "repeats": len(runs),
                "kinds": dict(sum((collections.Counter(r.kinds) for r in runs), collections.Counter())),
            }
        anchor_rate = row["anchor"]["events_per_s"]
        if "product" in row:
            row["ratio"] = row["product"]["events_per_s"] / anchor_rate
        if "floor" in row:
            row["floor_ratio"] = row["floor"]["events_per_s"] / anchor_rate
        if "product" in row and "floor" in row:
            row["product_over_floor"] = row["product"]["events_per_s"] / row["floor"]["events_per_s"]
        rows.append(row)
    return rows


def _cell(row: dict[str, Any], bot: str, key: str, width: int, digits: int) -> str:
    """One bot's number, or '-' for a bot not run (--bots)."""
    return f"{row[bot][key]:>{width}.{digits}f}" if bot in row else f"{'-':>{width}}"


def _ratio_cell(row: dict[str, Any], key: str, width: int) -> str:
    return f"{row[key]:>{width - 1}.2f}x" if key in row else f"{'-':>{width}}"


def print_table(name: str, rows: list[dict[str, Any]], plan: dict[str, Any]) -> dict[str, Any]:
    p99 = {row["level"]: row["product"]["p99_ms"] for row in rows if "product" in row}
    growth = p99[64] / p99[8] if 8 in p99 and 64 in p99 else None
    verdicts: dict[str, Any] = {}
    print()
    print(
        f"{name.capitalize()}: events/s and latency (event sent -> reply recorded by the fake), "
        f"medians over {plan['repeats']} repeat(s)"
    )
    print(
        f"{'in flight':>9} {'anchor ev/s':>11} {'floor ev/s':>10} {'product ev/s':>12} "
        f"{'floor/anc':>9} {'prod/anc':>8} {'target':<44} "
        f"{'anc cpu':>8} {'floor cpu':>9} {'prod cpu':>8} {'prod req':>8}"
    )
    print(
        f"{'':>9} {'':>11} {'':>10} {'':>12} {'':>9} {'':>8} {'':<44} {'ms/ev':>8} {'ms/ev':>9} {'ms/ev':>8} {'/ev':>8}"
    )
    for row in rows:
        level = row["level"]
        target = "-"
        if level in (8, 64) and "ratio" in row:
            met = row["ratio"] >= 0.5
            verdicts[f"ratio_at_{level}"] = {"value": row["ratio"], "target": 0.5, "met": met}
            target = f">=0.5x {'met' if met else 'NOT met'}"
        if level in (8, 64) and "floor_ratio" in row:
            verdicts[f"floor_ratio_at_{level}"] = row["floor_ratio"]
        if level == 64 and growth is not None:
            met = growth <= 4.0
            verdicts["p99_64_over_p99_8"] = {"value": growth, "target": 4.0, "met": met}
            target += f"; p99 {growth:.1f}x p99@8 <=4x {'met' if met else 'NOT met'}"
        print(
            f"{level:>9} {_cell(row, 'anchor', 'events_per_s', 11, 1)} {_cell(row, 'floor', 'events_per_s', 10, 1)} "
            f"{_cell(row, 'product', 'events_per_s', 12, 1)} {_ratio_cell(row, 'floor_ratio', 9)} "
            f"{_ratio_cell(row, 'ratio', 8)} {target:<44} {_cell(row, 'anchor', 'cpu_ms_per_event', 8, 2)} "
            f"{_cell(row, 'floor', 'cpu_ms_per_event', 9, 2)} {_cell(row, 'product', 'cpu_ms_per_event', 8, 2)} "
            f"{_cell(row, 'product', 'requests_per_event', 8, 1)}"
        )
    print()
    print(
        f"{'latency':>9} {'anc p50':>8} {'anc p99':>8} {'floor p50':>9} {'floor p99':>9} {'prod p50':>8} {'prod p99':>8}"
    )
    print(f"{'in flight':>9} {'ms':>8} {'ms':>8} {'ms':>9} {'ms':>9} {'ms':>8} {'ms':>8}")
    for row in rows:
        print(
            f"{row['level']:>9} {_cell(row, 'anchor', 'p50_ms', 8, 1)} {_cell(row, 'anchor', 'p99_ms', 8, 1)} "
            f"{_cell(row, 'floor', 'p50_ms', 9, 1)} {_cell(row, 'floor', 'p99_ms', 9, 1)} "
            f"{_cell(row, 'product', 'p50_ms', 8, 1)} {_cell(row, 'product', 'p99_ms', 8, 1)}"
        )
    if growth is not None:
        anchor_p99 = {row["level"]: row["anchor"]["p99_ms"] for row in rows}
        anchor_growth = anchor_p99[64] / anchor_p99[8]
        verdicts["anchor_p99_64_over_p99_8"] = anchor_growth
        print(
            f"p99 at 64 / p99 at 8: product {growth:.1f}x, anchor {anchor_growth:.1f}x (target <= 4x). "
            "A bot that is already saturated at 8 in flight serves 64 at the same rate, so its "
            "latency grows ~8x (latency = in flight / throughput)"
        )
    floors = {row["level"]: row["floor_ratio"] for row in rows if "floor_ratio" in row}
    if 8 in floors and 64 in floors:
        where = " and its answer in a thread of the question (2 requests)" if name == "discord" else ""
        print(
            f"floor = the anchor + the product's retrieval (KnowledgeService.search_widened on its "
            f"knowledge thread){where}: {floors[8]:.2f}x / {floors[64]:.2f}x the anchor at 8 / 64 in flight, "
            f"so a product at 0.5x would have to be "
            f"{0.5 / floors[8]:.2f}x / {0.5 / floors[64]:.2f}x the floor "
            "(no store, no answer, no lookups)"
        )
    replies = []
    for bot in BOTS:
        kinds: collections.Counter[str] = collections.Counter()
        for row in rows:
            kinds.update(row.get(bot, {}).get("kinds", {}))
        if kinds:
            replies.append(f"{bot} {dict(kinds)}")
    print(
        f"replies: {'; '.join(replies)}; cpu = the bot process's user+system CPU per event "
        "(all threads); req = requests the fake saw per event"
    )
    return verdicts


def print_profile(name: str, profile: dict[str, Any]) -> None:
    run, total = profile["run"], max(1, profile["samples"])
    print()
    print(
        f"{name.capitalize()} product at 8 in flight under py-spy ({profile['samples']} samples holding the GIL "
        f"at {PROFILE_RATE} Hz, "
        f"{run['events']} events, {run['events_per_s']:.1f}/s while sampled)"
    )
    print("  top functions by own time:")
    for func, count in profile["own"]:
        print(f"    {100 * count / total:5.1f}%  {func}")
    print("  our functions (bot/, adapters/) by time inside them:")
    for func, count in profile["ours_inclusive"]:
        print(f"    {100 * count / total:5.1f}%  {func}")
    print("  own time by package: " + ", ".join(f"{p} {100 * c / total:.0f}%" for p, c in profile["package"]))


def machine() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import discord
    import slack_bolt
    import slack_sdk

    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform_module.python_version(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "bot", "adapters")),
        "slack_bolt": slack_bolt.version.__version__,
        "slack_sdk": slack_sdk.version.__version__,
        "discord.py": discord.__version__,
        "load_average": os.getloadavg(),
    }


async def main(
    platforms: list[str], quick: bool, json_path: Path | None, profile: bool, bots: Sequence[str] = BOTS
) -> None:
    plan = QUICK if quick else FULL
    info = machine()
    print(
        f"event throughput, {info['date']}, {info['cpu']} ({info['cores']} cores), Python {info['python']}, "
        f"commit {info['commit']}{' + uncommitted changes in bot/ or adapters/' if info['dirty'] else ''}; "
        f"slack-bolt {info['slack_bolt']}, discord.py {info['discord.py']}"
    )
    print(
        f"levels {LEVELS}, events per run {plan['events']}, at most {plan['seconds']:.0f} s per run, "
        f"{plan['repeats']} repeat(s), seed {SEED}; bots {', '.join(bots)}"
    )
    began = time.perf_counter()
    report: dict[str, Any] = {"machine": info, "plan": plan, "bots": list(bots), "platforms": {}}
    with tempfile.TemporaryDirectory(prefix="supportbot-throughput-logs-") as tmp:
        for name in platforms:
            result = await bench_platform(name, plan, Path(tmp), profile, bots)
            rows = summary_rows(result)
            verdicts = print_table(name, rows, plan)
            if result["profile"] is not None:
                print_profile(name, result["profile"])
            report["platforms"][name] = {
                "rows": rows,
                "targets": verdicts,
                "profile": result["profile"],
                "runs": [asdict(r) for r in result["runs"]],
            }
    report["elapsed_s"] = time.perf_counter() - began
    print(f"\ntotal {report['elapsed_s']:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"raw numbers in {json_path}")


def _bots(text: str) -> tuple[str, ...]:
    """`--bots`: every ratio is over the anchor, so it always runs; the order of BOTS is kept."""
    chosen = {name.strip() for name in text.split(",") if name.strip()}
    unknown = chosen - set(BOTS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown bot(s) {', '.join(sorted(unknown))}; choose from {', '.join(BOTS)}"
        )
    if "anchor" not in chosen:
        raise argparse.ArgumentTypeError("the anchor must run: every ratio is over it")
    return tuple(bot for bot in BOTS if bot in chosen)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small runs, one repeat (~1-2 minutes)")
    parser.add_argument("--platform", choices=("slack", "discord", "both"), default="both")
    parser.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    parser.add_argument(
        "--bots",
        type=_bots,
        default=BOTS,
        help="which bots to run, comma-separated, the anchor among them (default: product,anchor,floor)",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy run")
    parser.add_argument("--sut", choices=BOTS, help=argparse.SUPPRESS)
    parser.add_argument("--connect", help=argparse.SUPPRESS)
    parser.add_argument(
        "--cpu",
        choices=("auto", "off"),
        default="auto",
        help="the product's [run] cpu (default auto, as supportbot run): off lets its threads float",
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _args()
    PRODUCT_CPU = arguments.cpu
    if arguments.sut:
        import logging

        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        platform_name = "slack" if arguments.platform == "both" else arguments.platform
        asyncio.run(SUTS[platform_name, arguments.sut](json.loads(arguments.connect)))
    else:
        import logging

        logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
        chosen = ["slack", "discord"] if arguments.platform == "both" else [arguments.platform]
        asyncio.run(main(chosen, arguments.quick, arguments.json, not arguments.no_profile, arguments.bots))
