"""Text analysis shared by indexing and querying: English and Korean into index terms.

Chosen by measurement on the eval sets (see bench/README.md and the README):
- Text is NFKC-normalised, lower-cased and cut into Hangul runs and other word runs.
- English (and other non-Hangul) words: possessives dropped, contractions expanded, a stop
  list that keeps negations, particles, quantifiers and wh-words (they carry meaning in
  support questions: "how do I turn *off*...", "*not* working"), then Snowball stemming.
  Compounds are indexed whole and in parts (e-mail -> email, e, mail).
- Korean is searched as overlapping character bigrams only (환불을 -> 환불, 불을), in their
  own field, weighed like a word (index.py). A bigram needs no dictionary and no rule for
  particles, and it matches the parts of compounds and spelling variants. Version 2 also
  searched words with one particle or ending stripped (ko_strip, a suffix list written
  against the dev questions); it led on those questions and lost on KorQuAD's hidden half to
  plain bigram BM25 (recall@1 0.877 vs 0.883). `python bench/korean_retrieval.py`, 5-fold
  cross-validation on korquad_ko with weights chosen on the training folds, measured
  held-out recall@1 / recall@5: bigrams + non-Hangul words 0.913 / 0.990, plain bigram BM25
  0.900 / 0.990 (top-1 +4 / -0 questions against it), version 2 refit 0.913 / 0.990 but
  with its weight jumping between folds (0 to 0.5); kiwipiepy nouns + bigrams 0.893 / 0.993,
  whole words 0.880, syllable unigrams 0.893, syllable trigrams 0.860: none better, so no
  analyser is loaded.
  Stripped Korean words are still produced by `analyze` (comparing texts, not searching).
- Queries also drop words that phrase a request rather than name a topic: "way", "please";
  in Korean the question words (무엇, 어떻게...) and the light verbs and request forms a chat
  question ends with (해요, 하나요, 알려주세요, 방법...). On react_ko this raised recall@1 / @5
  from 0.488 / 0.878 to 0.512 / 0.902; korquad_ko (formal questions) did not move.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import Stemmer

from bot.markdown import unescape_prose
from bot.patterns import lazy_pattern

ANALYZER_VERSION = "4"  # bump whenever analysis changes: the index is then rebuilt

_NLTK_STOP = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her
hers herself it its itself they them their theirs themselves what which who whom this that these
those am is are was were be been being have has had having do does did doing a an the and but if or
because as until while of at by for with about against between into through during before after
above below to from up down in out on off over under again further then once here there when where
why how all any both each few more most other some such no nor not only own same so than too very s
t can will just don should now d ll m o re ve y ain aren couldn didn doesn hadn hasn haven isn ma
mightn mustn needn shan shouldn wasn weren won wouldn""".split()  # noqa: SIM905 - a word list reads better as text
)
_KEEP = frozenset(
    """not no nor off out up down over under again before after above below all only same other more most
few own between against through during further once both each any some such too than how what why
when where which who whom""".split()  # noqa: SIM905 - a word list reads better as text
)
STOP_EN = _NLTK_STOP - _KEEP
QUERY_STOP_EN = frozenset(
    """way ways possible anyone someone somebody please""".split()  # noqa: SIM905 - a word list reads better as text
)
QUERY_STOP_KO = frozenset(
    """무엇 무엇인가 무엇인지 무엇일까 무엇입니까 뭐 뭘 무얼 누구 누가 누구인가 누구입니까 누구일까 어디 어디인가 어디인지 어디서 어디에 어디에서 언제 언제인가 언제인지 몇 몇몇 어느
어떤 어떠한 어떻게 어땠 왜 얼마 얼마나 무슨 어디일까 언제일까 어딘가
해요 하나요 하죠 해야 하면 하면요 할까요 합니까 합니다 돼요 되나요 되요 될까요 됩니다 인가요 있나요 있어요 있을까요
없나요 알려주세요 알려줘요 알려줘 주세요 방법 방법은 방법이 방법을 뭐예요 뭔가요 좀 혹시""".split()  # noqa: SIM905 - a word list reads better as text
)

# Korean particles (josa) and endings (eomi), removed longest-first from the end of a word.
# The connective endings of a how-to question (연동하려면, 받으려면: "to connect", "to get")
# are among them: left on, 연동하려 named no heading, and a page titled 슬랙 연동 was not
# recognised as written for "슬랙을 연동하려면?". So is the question ending of the same verbs
# (연결하나요, 설치되나요): one verb's endings strip to one stem, or a heading "…연결하려면 어떻게
# 하나요?" no longer meets the question "…어떻게 연결하나요?".
_KO_SUFFIXES = frozenset(
    """하려면 되려면 으려면 려면 하나요 되나요 이었습니다 였습니다 입니다 습니다 합니다 됩니다 했습니다 되었습니다 에서부터 으로부터 로부터 에게서 한테서 으로서 로서 으로써 로써 이라고 라고 이라는 라는 이라면 라면 에서는
에게는 으로는 로는 에서도 에게도 으로도 로도 까지는 부터는 에서의 으로의 로의 와의 과의 에의 이었다 였다 했다 하였다 되었다 됐다 한다 된다 이다 였던 했던 하던 되던 이던
이며 하며 되며 하는 되는 하고 되고 해서 돼서 하여 되어 하게 되게 하지 되지 한 된 할 될 함 됨 인가 는가 은가 었나 았나 인지 는지 은지 을까 ㄹ까 나요 까요 가요 는데
은데 인데 지만 거나 으며 에서 에게 한테 께서 으로 부터 까지 보다 처럼 같이 마다 조차 마저 이나 이란 란 이랑 랑 하고 은 는 이 가 을 를 의 에 로 와 과 도 만 나 께
야 여 며 고 서 면 다 던 게 지""".split()  # noqa: SIM905 - a word list reads better as text
)
_KO_LENGTHS = sorted({len(s) for s in _KO_SUFFIXES}, reverse=True)
# one-syllable particles that (almost) never end a noun may leave a one-syllable stem
# (위를 -> 위); any other one-syllable suffix needs two syllables left (protects 정도, 사면)
_KO_SAFE_ONE = frozenset("를은는")

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_RUNS = lazy_pattern(r"[\uac00-\ud7a3]+|[^\W\uac00-\ud7a3]+(?:['\-._][^\W\uac00-\ud7a3]+)*")
# _RUNS on lower-case ASCII text (there \w is [a-z0-9_]): a plain character class, no
# Unicode category test per character
_ASCII_RUNS = re.compile(r"[a-z0-9_]+(?:['\-._][a-z0-9_]+)*")
_WORD = lazy_pattern(r"[^\W_]+|_+")  # Unicode classes: compiled when non-ASCII text comes
_CONTRACTIONS = (
    ("n't", " not"),
    ("'re", " are"),
    ("'ve", " have"),
    ("'ll", " will"),
    ("'d", " would"),
    ("'m", " am"),
)
_IRREGULAR = {"ca not": "can not", "wo not": "will not"}


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def ko_strip(word: str) -> str:
    """Remove one particle or ending: the longest that leaves a plausible stem."""
    n = len(word)
    for length in _KO_LENGTHS:
        if n - length < 1:
            continue
        suffix = word[-length:]
        if suffix in _KO_SUFFIXES and (length > 1 or suffix in _KO_SAFE_ONE or n - length >= 2):
            return word[:-length]
    return word


def char_bigrams(word: str) -> list[str]:
    """A Korean word's character bigrams (the word itself when it is two syllables or one)."""
    return [word] if len(word) <= 2 else [word[i : i + 2] for i in range(len(word) - 1)]


def _english_run(run: str, stop: frozenset[str], out: list[str]) -> None:
    whole: str | None = None
    if any(c in run for c in "-._"):
        whole = (
            run.replace("-", "").replace("'", "")
            if "-" in run and not any(c in run for c in "._")
            else run.strip("._")
        )
    for piece in re.split(r"[-._]+", run) if whole else (run,):
        if "'" in piece:
            if piece.endswith("'s"):
                piece = piece[:-2]
            else:
                for ending, expansion in _CONTRACTIONS:
                    if piece.endswith(ending):
                        piece = piece[: -len(ending)] + expansion
                        break
                piece = _IRREGULAR.get(piece, piece)
            out.extend(w for w in _WORD().findall(piece) if w not in stop and w.strip("_"))
        elif piece and piece not in stop:
            out.append(piece)
    if whole and whole not in stop:
        out.append(whole)


@dataclass(frozen=True, slots=True)
class Terms:
    words: list[str]  # stems of non-Hangul words
    bigrams: list[str]  # Korean character bigrams

    def __len__(self) -> int:
        return len(self.words) + len(self.bigrams)


# What one run of letters analyses to, by query mode: the same words recur all through a
# folder (and a question), so each distinct run is analysed once. Bounded: emptied when full.
# (is Hangul, particle-stripped Korean word or None if dropped, stems or bigrams)
RunTerms = tuple[bool, str | None, tuple[str, ...]]
RUN_CACHE_SIZE = 65_536
_RUN_CACHES: dict[bool, dict[str, RunTerms]] = {False: {}, True: {}}
# the same for text without Hangul, the usual case: each run's stems only, so that a text's
# terms are gathered by C-level lookups rather than a Python loop over its words
_STEM_CACHES: dict[bool, dict[str, tuple[str, ...]]] = {False: {}, True: {}}


def _analyse_run(run: str, query: bool) -> RunTerms:
    if _HANGUL.match(run):
        stripped = ko_strip(run)
        if query and (run in QUERY_STOP_KO or stripped in QUERY_STOP_KO):
            return True, None, ()
        return True, stripped, tuple(char_bigrams(run))
    english: list[str] = []
    _english_run(run, STOP_EN | QUERY_STOP_EN if query else STOP_EN, english)
    return False, None, tuple(_stemmer().stemWords(english)) if english else ()


def _stems_only(runs: list[str], query: bool) -> list[str]:
    """The stems of `runs`, none of them Hangul, in order."""
    cache = _STEM_CACHES[query]
    try:  # with the folder's words known after its first files, the usual case
        return list(chain.from_iterable(map(cache.__getitem__, runs)))
    except KeyError:
        pass
    missing = set(runs).difference(cache)
    if len(cache) + len(missing) > RUN_CACHE_SIZE:
        cache.clear()
        missing = set(runs)
    for run in missing:
        cache[run] = _analyse_run(run, query)[2]
    try:
        return list(chain.from_iterable(map(cache.__getitem__, runs)))
    except KeyError:  # emptied meanwhile by another thread (a search during a sync)
        return [stem for run in runs for stem in _analyse_run(run, query)[2]]


def _analyse(text: str, *, query: bool, korean_words: bool) -> Terms:
    # a passage's Markdown escapes (`\_\_init\_\_.py`) are the characters they show: its
    # words are searched as a reader sees them, not split at backslashes
    normal = unicodedata.normalize("NFKC", unescape_prose(text)).lower().replace("’", "'")
    if normal.isascii():  # most passages: the same runs as _RUNS finds, found faster
        return Terms(words=_stems_only(_ASCII_RUNS.findall(normal), query), bigrams=[])
    runs = _RUNS().findall(normal)
    if not _HANGUL.search(normal):
        return Terms(words=_stems_only(runs, query), bigrams=[])
    korean: list[str] = []
    bigrams: list[str] = []
    words: list[str] = []  # non-Hangul stems; Korean words (if kept) come first, as always
    cache = _RUN_CACHES[query]
    for run in runs:
        found = cache.get(run)
        if found is None:
            if len(cache) >= RUN_CACHE_SIZE:
                cache.clear()
            found = cache[run] = _analyse_run(run, query)
        hangul, stripped, terms = found
        if not hangul:
            words += terms
        elif stripped is not None:
            if korean_words:
                korean.append(stripped)
            bigrams += terms
    return Terms(words=korean + words if korean else words, bigrams=bigrams)


def tokenize(text: str, *, query: bool = False) -> Terms:
    """Index terms: stemmed non-Hangul words, and Korean only as character bigrams (a Korean
    word term, even with its particle stripped, ranked worse on held-out questions)."""
    return _analyse(text, query=query, korean_words=False)


def analyze(text: str) -> list[str]:
    """Word terms of `text` for comparing texts, e.g. picking sentences: with Korean words
    (particle stripped), which say more about a sentence than its bigrams do."""
    return _analyse(text, query=False, korean_words=True).words


def topic_words(text: str) -> list[str]:
    """What a question is about, as words in both languages: the query's words without its
    request phrasing, Korean ones particle-stripped (for comparing with headings, not search)."""
    return list(dict.fromkeys(_analyse(text, query=True, korean_words=True).words))


def analyze_query(text: str) -> Terms:
    """Query terms, each once, in order of appearance."""
    terms = tokenize(text, query=True)
    return Terms(words=list(dict.fromkeys(terms.words)), bigrams=list(dict.fromkeys(terms.bigrams)))
