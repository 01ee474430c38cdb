"""The dashboard's two languages: which one a viewer gets (their browser's Accept-Language,
English unless Korean is preferred), and the Korean text of every English UI string.

Templates write English and wrap it: `{{ t("Tickets") }}`. English is the key, so a string
with no Korean entry still reads correctly; tests (tests/bot/dashboard/test_i18n.py) check
that every string the templates wrap has one, and that no template shows English words
outside `t()` (code, in <code> or <pre>, is left as typed). What the pages say after an
action is a `Notice` (notices.py): its English, with `{name}` places, is a key here too.
Page modules keep their Korean entries in their own block of `KOREAN` below, so two pages
never edit the same lines.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum


class Locale(StrEnum):
    EN = "en"
    KO = "ko"


def locale_of(accept_language: str | None) -> Locale:
    """The viewer's language: the highest-weighted of en/ko in Accept-Language (RFC 9110
    §12.5.4), English when neither appears or the header is malformed."""
    best, best_q = Locale.EN, -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in (Locale.EN, Locale.KO):
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if not 0.0 < q <= 1.0:
            continue
        if q > best_q:  # strictly: the earlier of two equal tags wins, as the browser ranked it
            best, best_q = Locale(primary), q
    return best


def translator(locale: Locale) -> Callable[[str], str]:
    """`t` for templates: the Korean text when the viewer reads Korean, else the English."""
    if locale == Locale.KO:
        return lambda text: KOREAN.get(text, text)
    return lambda text: text


KOREAN: dict[str, str] = {
    # -- layout (base.html), sign-in, refusals --------------------------------------------
    "Support dashboard": "지원 대시보드",
    "Skip to content": "본문으로 건너뛰기",
    "Main": "주 메뉴",
    "Overview": "개요",
    "Tickets": "티켓",
    "Audit log": "감사 로그",
    "Signed in as": "로그인 사용자",
    "Sign out": "로그아웃",
    "supportbot dashboard": "supportbot 대시보드",
    "Sign in": "로그인",
    "This sign-in link is not valid: it was used already, it expired (links last 10 minutes), "
    "or it was never issued. Ask for a new one.": (
        "유효하지 않은 로그인 링크입니다. 이미 사용되었거나, 만료되었거나(링크는 10분 동안 유효합니다), "
        "발급된 적이 없는 링크입니다. 새 링크를 요청하세요."
    ),
    "Sign in to the dashboard": "대시보드에 로그인",
    "The link works once.": "이 링크는 한 번만 쓸 수 있습니다.",
    "Sign in with a one-time link. An operator makes one on the bot's machine with this command "
    "(for Discord, with --platform discord):": (
        "일회용 링크로 로그인하세요. 운영자가 봇이 실행되는 머신에서 다음 명령으로 링크를 만들 수 "
        "있습니다(Discord는 --platform discord):"
    ),
    # -- audit log ------------------------------------------------------------------------
    "Every change made through the dashboard, newest first": "대시보드에서 한 모든 변경 (최신 순)",
    "Action": "작업",
    # -- refusals (refused.html, refusals.py) ---------------------------------------------
    "Not allowed": "허용되지 않음",
    "You are not staff or an admin of this bot on that platform, so the dashboard shows you "
    "nothing. Ask an admin to add you to the staff in supportbot.toml.": (
        "이 플랫폼에서 이 봇의 스태프나 관리자가 아니어서 대시보드에 아무것도 표시하지 않습니다. "
        "관리자에게 supportbot.toml의 스태프에 추가해 달라고 요청하세요."
    ),
    "The form was missing its security token.": "양식에 보안 토큰이 없습니다.",
    "Knowledge drafts are for admins.": "지식 초안은 관리자만 볼 수 있습니다.",
    "The knowledge page is for admins of every workspace.": "지식 페이지는 모든 워크스페이스의 관리자만 볼 수 있습니다.",
    "The audit log is for admins of every workspace.": "감사 로그는 모든 워크스페이스의 관리자만 볼 수 있습니다.",
    "Only admins can assign tickets.": "티켓 배정은 관리자만 할 수 있습니다.",
    "Approving works only while the dashboard runs inside supportbot run: "
    "the new document is indexed by the bot that answers from it.": (
        "승인은 대시보드가 supportbot run 안에서 실행될 때만 됩니다. "
        "새 문서는 그 문서로 답하는 봇이 색인합니다."
    ),
    "Gap actions work only while the dashboard runs inside supportbot run.": (
        "공백 작업은 대시보드가 supportbot run 안에서 실행될 때만 됩니다."
    ),
    "Reindexing works only while the dashboard runs inside supportbot run: "
    "the running bot owns the index (or run supportbot index).": (
        "재색인은 대시보드가 supportbot run 안에서 실행될 때만 됩니다. "
        "실행 중인 봇이 색인을 관리합니다(또는 supportbot index를 실행하세요)."
    ),
    "Ticket actions work only while the dashboard runs inside supportbot run, "
    "so that the chat thread is updated.": (
        "티켓 작업은 채팅 스레드가 갱신되도록 대시보드가 supportbot run 안에서 실행될 때만 됩니다."
    ),
    # -- status lines after an action (notices.py) ----------------------------------------
    "The note is {length:,} characters; keep it under {limit:,}.": (
        "메모가 {length:,}자입니다. {limit:,}자 이내로 줄여 주세요."
    ),
    "Give the user id of the person to assign, e.g. U12345.": "배정할 사람의 사용자 ID를 입력하세요(예: U12345).",
    "{person} is not on the team of this ticket's workspace ({workspace}): assign one of the "
    "people listed (named for {workspace} in the settings, or seen working its tickets), or "
    "someone of {workspace} with {command} there.": (
        "{person}님은 이 티켓의 워크스페이스({workspace}) 팀에 속해 있지 않습니다. 목록에 있는 사람"
        "(설정에서 {workspace}에 지정되었거나 그 티켓을 처리한 적이 있는 사람)에게 배정하거나, "
        "{workspace}의 다른 사람은 그 워크스페이스에서 {command} 명령으로 배정하세요."
    ),
    "A draft needs a title: it becomes the document's heading.": (
        "초안에는 제목이 있어야 합니다. 제목은 문서의 머리글이 됩니다."
    ),
    "A draft needs an answer: it is what the bot will say.": "초안에는 답변이 있어야 합니다. 봇이 사용자에게 할 말입니다.",
    "The answer is {length:,} characters; keep it under {limit:,}.": (
        "답변이 {length:,}자입니다. {limit:,}자 이내로 줄여 주세요."
    ),
    "Draft #{draft} was already {status}.": "초안 #{draft}은 이미 '{status}' 상태입니다.",
    "Draft #{draft} saved.": "초안 #{draft}을 저장했습니다.",
    "Draft #{draft} was changed by someone else while you approved it: "
    "review it as it is now, and approve again.": (
        "승인하는 사이에 다른 사람이 초안 #{draft}을 수정했습니다. 현재 내용을 검토한 뒤 다시 승인하세요."
    ),
    "Someone else saved draft #{draft} after you opened it: your text is still in the editor, "
    "theirs is shown below it. Save again to replace theirs with yours.": (
        "초안 #{draft}을 연 뒤에 다른 사람이 저장했습니다. 작성하신 내용은 편집기에 그대로 있고, "
        "다른 사람이 저장한 내용은 그 아래에 있습니다. 다시 저장하면 작성하신 내용으로 바뀝니다."
    ),
    "Draft #{draft} was already decided.": "초안 #{draft}은 이미 처리되었습니다.",
    "Draft #{draft} approved: written to {path} and indexed.": (
        "초안 #{draft}을 승인했습니다. {path}에 기록하고 색인했습니다."
    ),
    "Draft #{draft} approved: written to {path} and indexed. The other workers re-read the folder within a minute.": (
        "초안 #{draft}을 승인했습니다. {path}에 기록하고 색인했습니다. 다른 워커도 1분 안에 폴더를 다시 읽습니다."
    ),
    "Draft #{draft} rejected.": "초안 #{draft}을 거절했습니다.",
    "Gap #{gap} was already dismissed.": "공백 #{gap}은 이미 무시되었습니다.",
    "Gap #{gap} dismissed. It shows again if it is asked {asks} more time(s).": (
        "공백 #{gap}을 무시했습니다. 앞으로 {asks}번 더 질문되면 다시 나타납니다."
    ),
    # -- overview -------------------------------------------------------------------------
    "Period": "기간",
    "last": "최근",
    "From": "기간:",
    "to": "~",
    "the figures of": "다음 명령과 같은 수치",
    "Over time": "기간별 추이",
    "Each bar is the report of its day (of its week, for 30 days), as of its end.": "각 막대는 그날(30일 기간은 그 주)의 보고서이며, 그 끝 시점 기준입니다.",
    "Support figures": "지원 수치",
    "figure": "항목",
    "value": "값",
    "Answers": "답변",
    "answered": "답변함",
    "Resolutions: confirmed and assumed": "해결: 확인됨과 추정됨",
    "confirmed": "확인됨",
    "assumed": "추정됨",
    "Escalations": "담당자 연결",
    "escalations": "담당자 연결",
    "First response by the team, median (business minutes)": "팀의 첫 응답 시간 중앙값 (업무 시간 기준 분)",
    "median minutes": "중앙값 (분)",
    "CSAT": "만족도 (CSAT)",
    "Nothing to chart in this period.": "이 기간에는 표시할 데이터가 없습니다.",
    # -- tickets --------------------------------------------------------------------------
    "Read-only: this dashboard runs on its own, without the bot's chat connections, so it could not update the chat thread. Act on tickets here while it runs inside supportbot run.": "읽기 전용: 이 대시보드는 봇의 채팅 연결 없이 단독으로 실행 중이라 채팅 스레드를 갱신할 수 없습니다. supportbot run 안에서 실행될 때 여기서 티켓을 처리하세요.",
    "Filter the queue": "대기열 필터",
    "Status": "상태",
    "Platform": "플랫폼",
    "any": "전체",
    "Channel": "채널",
    "Assignee": "담당자",
    "anyone": "누구든",
    "nobody yet": "아직 없음",
    "me": "나",
    "Age": "경과 시간",
    "SLA": "SLA",
    "Show": "보기",
    "Reset filters": "필터 초기화",
    "Tickets matching the filters": "필터에 맞는 티켓",
    "on this page": "이 페이지에 표시",
    "Order": "정렬",
    "newest first": "최신 순",
    "oldest first": "오래된 순",
    "Pages of the queue": "대기열 페이지",
    "First page": "첫 페이지",
    "Next page": "다음 페이지",
    "older tickets": "더 오래된 티켓",
    "newer tickets": "더 최근 티켓",
    "Question": "질문",
    "No tickets match these filters.": "이 필터에 맞는 티켓이 없습니다.",
    "open or claimed": "열림 또는 담당 중",
    "open": "열림",
    "claimed": "담당 중",
    "resolved": "해결됨",
    "closed": "닫힘",
    "all": "전체",
    "older than an hour": "1시간 넘게",
    "older than a day": "1일 넘게",
    "older than a week": "1주 넘게",
    "overdue": "기한 초과",
    "on time": "기한 이내",
    "waiting for business hours": "업무 시간 대기",
    "no deadline": "기한 없음",
    "done": "완료",
    "Ticket": "티켓",
    "Brief": "요약",
    "Act": "처리",
    "Claim": "담당하기",
    "Resolution note (optional, posted in the thread)": "해결 메모 (선택, 스레드에 게시됨)",
    "Resolve": "해결",
    "Assign to (user id)": "담당자 지정 (사용자 ID)",
    "Assign": "지정",
    "Why it is reopened (optional, kept in the timeline)": "다시 여는 이유 (선택, 타임라인에 기록됨)",
    "Reopen": "다시 열기",
    "Read-only: this dashboard runs on its own, so it could not update the chat thread. Act on this ticket here while it runs inside supportbot run, or with the buttons in the chat.": "읽기 전용: 이 대시보드는 단독으로 실행 중이라 채팅 스레드를 갱신할 수 없습니다. supportbot run 안에서 실행될 때 여기서, 또는 채팅의 버튼으로 이 티켓을 처리하세요.",
    "Transcript": "대화 기록",
    "No messages recorded.": "기록된 메시지가 없습니다.",
    "Timeline": "타임라인",
    "Every change to this ticket, oldest first": "이 티켓의 모든 변경 (오래된 순)",
    "When": "시각",
    "Who": "누가",
    "Event": "이벤트",
    "Detail": "세부 내용",
    "user": "사용자",
    "bot": "봇",
    "staff": "스태프",
    "opened": "생성됨",
    "reassigned": "배정됨",
    "reopened": "다시 열림",
    "sla": "SLA 단계",
    "rated": "평가됨",
    # -- drafts ---------------------------------------------------------------------------
    "Drafts": "초안",
    "Knowledge drafts": "지식 초안",
    "What staff answered in resolved tickets, waiting to become documentation. An approved draft is written into the knowledge folder and the bot answers from it at once.": "해결된 티켓에서 담당자가 답한 내용으로, 문서가 되기를 기다립니다. 승인된 초안은 지식 폴더에 기록되고 봇이 바로 그 내용으로 답합니다.",
    "Knowledge drafts, newest first": "지식 초안 (최신 순)",
    "Title": "제목",
    "From ticket": "원본 티켓",
    "Visibility": "공개 범위",
    "No drafts with this status.": "이 상태의 초안이 없습니다.",
    "waiting for review": "검토 대기",
    "approved": "승인됨",
    "rejected": "거절됨",
    "Draft": "초안",
    "Written to": "기록 위치",
    "Answer": "답변",
    "Answer (Markdown)": "답변 (Markdown)",
    "Preview": "미리 보기",
    "Save": "저장",
    "Save and approve": "저장 후 승인",
    "Approving works only while the dashboard runs inside supportbot run, so that the bot indexes the new document.": "승인은 대시보드가 supportbot run 안에서 실행될 때만 가능합니다. 그래야 봇이 새 문서를 색인합니다.",
    "Reject": "거절",
    "Preview of the document": "문서 미리 보기",
    "Saved meanwhile by someone else": "그사이 다른 사람이 저장한 내용",
    "Front matter": "머리말 (front matter)",
    # -- gaps -----------------------------------------------------------------------------
    "Gaps": "지식 공백",
    "Knowledge gaps": "지식 공백",
    "Questions the documentation does not answer yet, grouped by similarity. A gap is addressed once a search finds a confident answer, dismissed by staff, or open.": "문서가 아직 답하지 못하는 질문을 비슷한 것끼리 묶었습니다. 검색이 확신 있는 답을 찾으면 해결됨, 담당자가 숨기면 무시됨, 그 밖에는 열림입니다.",
    "Read-only: this dashboard runs on its own, so the gaps are shown as last stored. Dismissing and drafting work while it runs inside supportbot run.": "읽기 전용: 이 대시보드는 단독으로 실행 중이라 마지막으로 저장된 공백을 보여 줍니다. 무시와 초안 만들기는 supportbot run 안에서 실행될 때 가능합니다.",
    "Knowledge gaps, most asked first": "지식 공백 (많이 물은 순)",
    "Asked": "질문 횟수",
    "Kind": "종류",
    "No gaps with this status.": "이 상태의 공백이 없습니다.",
    "answered by the docs now": "이제 문서로 답함",
    "dismissed": "무시됨",
    "unanswered": "답하지 못함",
    "answered, did not help": "답했지만 도움 안 됨",
    "Gap": "공백",
    "Dismiss": "무시",
    "A dismissed gap shows again after this many new asks:": "무시한 공백은 새 질문이 이만큼 들어오면 다시 나타납니다:",
    "Draft from this gap": "이 공백으로 초안 만들기",
    "A draft is made from what staff answered in one of this gap's tickets; admins review it under Drafts.": "초안은 이 공백의 티켓에서 담당자가 답한 내용으로 만들어지며, 관리자가 초안 메뉴에서 검토합니다.",
    "Read-only: this dashboard runs on its own. Dismissing and drafting work while it runs inside supportbot run.": "읽기 전용: 이 대시보드는 단독으로 실행 중입니다. 무시와 초안 만들기는 supportbot run 안에서 실행될 때 가능합니다.",
    "Questions": "질문",
    "The questions of this gap, newest first": "이 공백의 질문 (최신 순)",
    "Asked ago": "질문 시점",
    # -- knowledge ------------------------------------------------------------------------
    "Knowledge": "지식",
    "The files the bot answers from, as the search index holds them.": "봇이 답변에 쓰는 파일을 검색 색인에 담긴 그대로 보여 줍니다.",
    "Why did it answer that? Ask a question and see what the bot would answer, and from which passages.": "왜 그렇게 답했을까요? 질문을 입력하면 봇이 무엇을, 어느 구절을 근거로 답할지 보여 줍니다.",
    "Ask": "질문하기",
    "Reindex": "다시 색인",
    "Reindex reads the folder again now, only the files that changed, as /support reindex does.": "다시 색인은 /support reindex처럼 폴더에서 바뀐 파일만 지금 다시 읽습니다.",
    "Read-only: this dashboard runs on its own, so it reads the index without changing it. Reindex works while it runs inside supportbot run, or with supportbot index.": "읽기 전용: 이 대시보드는 단독으로 실행 중이라 색인을 바꾸지 않고 읽기만 합니다. 다시 색인은 supportbot run 안에서 실행될 때 또는 supportbot index로 할 수 있습니다.",
    "The index could not be opened here:": "여기서 색인을 열 수 없습니다:",
    "Last sync:": "마지막 동기화:",
    "New questions are placed into gaps by the running bot about every half minute. Placed as of:": "새 질문은 실행 중인 봇이 약 30초마다 지식 공백에 배치합니다. 배치 기준 시각:",
    "never": "없음",
    "Files not indexed, and why": "색인되지 않은 파일과 그 이유",
    "Path": "경로",
    "Why": "이유",
    "Files skipped on purpose are listed by the running bot, which walks the folder.": "일부러 건너뛴 파일은 폴더를 살펴보는 실행 중인 봇이 보여 줍니다.",
    "Indexed files": "색인된 파일",
    "passages": "구절",
    "Passages": "구절 수",
    "Audience": "대상",
    "Indexed": "색인 시각",
    "everyone": "모두",
    "public": "공개",
    "internal": "내부",
    "No files are indexed yet.": "아직 색인된 파일이 없습니다.",
    "Why did it answer that?": "왜 그렇게 답했을까요?",
    "Question, answered as supportbot ask does: an internal channel, every document": "질문 (supportbot ask처럼 내부 채널로, 모든 문서에서 답함)",
    "What the bot would do": "봇이 할 일",
    "Confidence": "확신도",
    "threshold": "기준값",
    "Decision": "결정",
    "Abstain: no confident answer, so in chat this question would go to a person.": "답변 보류: 확신 있는 답이 없어 채팅에서는 이 질문이 담당자에게 넘어갑니다.",
    "Answerer": "답변 방식",
    "model": "모델",
    "extractive": "문서 인용",
    "fallback": "대체 (문서 인용)",
    "Passages retrieved, best first": "찾은 구절 (관련도 순)",
    "Score": "점수",
    "Heading": "제목",
    "Passage": "구절",
    "No passage matched.": "맞는 구절이 없습니다.",
    # -- settings -------------------------------------------------------------------------
    "Settings": "설정",
    "The configuration the bot runs with: supportbot.toml and the environment, defaults included. To change a setting, edit the file and restart the bot (supportbot doctor checks it first).": "봇이 실행 중인 설정입니다: supportbot.toml과 환경 변수, 기본값 포함. 설정을 바꾸려면 파일을 고치고 봇을 다시 시작하세요(먼저 supportbot doctor로 확인할 수 있습니다).",
    "Where it comes from": "설정의 출처",
    "Secrets, from the environment: set or not, never shown": "비밀 값 (환경 변수): 설정 여부만 표시하고 값은 보여 주지 않습니다",
    "set": "설정됨",
    "not set": "설정 안 됨",
    "Setting": "설정 항목",
    "Value": "값",
    # -- sign-in with Slack / Discord -----------------------------------------------------
    "Sign in with Slack": "Slack으로 로그인",
    "Sign in with Discord": "Discord로 로그인",
    "The sign-in settings were refused. An operator should check the app's client id, client secret and redirect URL (see the dashboard guide).": "로그인 설정이 거부되었습니다. 운영자가 앱의 클라이언트 ID, 클라이언트 시크릿, 리디렉션 URL을 확인해야 합니다(대시보드 안내 참고).",
    "The sign-in service did not answer. Try again in a minute.": "로그인 서비스가 응답하지 않았습니다. 잠시 후 다시 시도하세요.",
    "The sign-in was refused: its code was already used or expired. Start again.": "로그인이 거부되었습니다. 코드가 이미 사용되었거나 만료되었습니다. 처음부터 다시 시작하세요.",
    "The answer from the sign-in service did not belong to this sign-in. Start again.": "로그인 서비스의 응답이 이 로그인의 것이 아닙니다. 처음부터 다시 시작하세요.",
    "You signed in to a Slack workspace this bot does not serve. Sign in to the bot's workspace.": "이 봇이 지원하지 않는 Slack 워크스페이스로 로그인했습니다. 봇이 있는 워크스페이스로 로그인하세요.",
    "This sign-in was not started in this browser, was already finished, or took longer than 10 minutes. Start again.": "이 로그인은 이 브라우저에서 시작되지 않았거나, 이미 끝났거나, 10분을 넘겼습니다. 처음부터 다시 시작하세요.",
    "The sign-in was cancelled. Start again when you are ready.": "로그인이 취소되었습니다. 준비되면 다시 시작하세요.",
    "This sign-in was sent by another site and was refused. Open your sign-in link yourself.": "다른 사이트가 보낸 로그인 요청이라 거부되었습니다. 로그인 링크를 직접 여세요.",
    "The settings page is for admins of every workspace.": "설정 페이지는 모든 워크스페이스의 관리자용입니다.",
    "Your rights cover some workspaces only, and a sign-in link does not say which is yours: sign in with Slack or Discord to see your workspace's figures. Tickets and gaps are in the menu.": "권한이 일부 워크스페이스에만 있고 로그인 링크로는 어느 워크스페이스인지 알 수 없습니다. 내 워크스페이스의 지표를 보려면 Slack이나 Discord로 로그인하세요. 티켓과 지식 공백은 메뉴에 있습니다.",
}
