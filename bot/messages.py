"""Every sentence the bot says to people, in English and Korean.

Kept in one table so the two languages stay in step and a wording change is one edit.
`say(key, language, **values)` falls back to English for a language it does not have.
"""

from __future__ import annotations

_TEXT: dict[str, dict[str, str]] = {
    "greeting": {
        "en": "Hi! Ask me a question about the product and I'll answer from the documentation, "
        "with sources. Say *talk to a person* any time to reach the team.",
        "ko": "안녕하세요! 제품에 대해 질문해 주시면 문서를 근거로 출처와 함께 답해 드립니다. "
        "언제든 *상담원 연결*이라고 말씀하시면 담당자에게 연결해 드립니다.",
    },
    "too_long": {
        "en": "Your message is {length:,} characters long; I can read questions of up to {limit:,}. "
        "Could you send just the question, or the key part of the error? "
        "Nothing was lost: you can also ask for a person.",
        "ko": "메시지가 {length:,}자로 너무 깁니다. 질문은 {limit:,}자까지 읽을 수 있습니다. "
        "질문이나 오류의 핵심 부분만 보내 주시겠어요? 담당자 연결을 요청하실 수도 있습니다.",
    },
    "sources": {"en": "Sources", "ko": "출처"},
    "abstain": {
        "en": "I couldn't find a reliable answer to this in the documentation, so I won't guess.",
        "ko": "문서에서 이 질문에 대한 확실한 답을 찾지 못했습니다. 추측으로 답하지 않겠습니다.",
    },
    "escalated": {
        "en": "I've passed your question to the support team (ticket #{ticket}). "
        "A person will reply here; you'll get a notification, and there's nothing else you need to do.",
        "ko": "질문을 지원팀에 전달했습니다 (티켓 #{ticket}). "
        "담당자가 이곳에 답변할 예정이며 알림이 갈 것입니다. 따로 하실 일은 없습니다.",
    },
    "escalated_no_staff": {
        "en": "I've recorded your question for the support team (ticket #{ticket}). "
        "A person will reply here.",
        "ko": "질문을 지원팀에 기록했습니다 (티켓 #{ticket}). 담당자가 이곳에 답변할 예정입니다.",
    },
    # a direct message: nobody of the team can write in it (the triage card tells them so)
    "escalated_direct": {
        "en": "I've passed your question to the support team (ticket #{ticket}). They can't write in "
        "this conversation with me, so a person will contact you directly; there's nothing else you need to do.",
        "ko": "질문을 지원팀에 전달했습니다 (티켓 #{ticket}). 지원팀은 저와의 이 대화에 글을 쓸 수 없으므로 "
        "담당자가 직접 연락드릴 예정입니다. 따로 하실 일은 없습니다.",
    },
    "escalated_after_hours": {
        "en": "I've passed your question to the support team (ticket #{ticket}). The team works {hours}, "
        "so a person will pick it up after {when}. The question is saved; you don't need to do anything else.",
        "ko": "질문을 지원팀에 전달했습니다 (티켓 #{ticket}). 지원팀 근무 시간은 {hours}이며, "
        "{when} 이후에 담당자가 확인할 예정입니다. 질문은 저장되었으니 따로 하실 일은 없습니다.",
    },
    "closed_by_asker": {
        "en": "Glad it's sorted! I've closed ticket #{ticket}.",
        "ko": "해결되었다니 다행입니다! 티켓 #{ticket}을 닫았습니다.",
    },
    "reopened": {
        "en": "I've reopened ticket #{ticket} and let the team know.",
        "ko": "티켓 #{ticket}을 다시 열고 지원팀에 알렸습니다.",
    },
    "reopened_after_hours": {
        "en": "I've reopened ticket #{ticket}. The team works {hours}, so a person will pick it up "
        "after {when}; you don't need to do anything else.",
        "ko": "티켓 #{ticket}을 다시 열었습니다. 지원팀 근무 시간은 {hours}이며, "
        "{when} 이후에 담당자가 확인할 예정입니다. 따로 하실 일은 없습니다.",
    },
    "you_are_welcome": {
        "en": "You're welcome!",
        "ko": "천만에요!",
    },
    "claimed": {
        "en": "{who} is looking at this now and will reply here.",
        "ko": "{who}님이 확인 중이며 이곳에서 답변할 예정입니다.",
    },
    "claimed_direct": {
        "en": "{who} is looking at this now and will contact you directly.",
        "ko": "{who}님이 확인 중이며 직접 연락드릴 예정입니다.",
    },
    "resolved": {"en": "{who} marked this resolved.", "ko": "{who}님이 해결 완료로 표시했습니다."},
    "resolved_note": {
        "en": "{who} marked this resolved. Note: {note}",
        "ko": "{who}님이 해결 완료로 표시했습니다. 메모: {note}",
    },
    "reassigned": {
        "en": "{who} assigned this to {to}.",
        "ko": "{who}님이 이 티켓을 {to}님에게 배정했습니다.",
    },
    # the reply tags the new assignee (escalation.tickets._assignment_note), and the platform
    # shows the tag as their name
    "reassigned_tagged": {
        "en": "{who} assigned this to you.",
        "ko": "{who}님이 이 티켓의 담당자로 지정했습니다.",
    },
    # in a direct message, which the asker alone reads: nobody is tagged there
    "reassigned_direct": {
        "en": "{who} gave this to a teammate, who will contact you directly.",
        "ko": "{who}님이 이 티켓을 팀원에게 배정했습니다. 담당자가 직접 연락드릴 예정입니다.",
    },
    "already_assigned": {
        "en": "Ticket #{ticket} is already assigned to {to}: nothing changed.",
        "ko": "티켓 #{ticket}은 이미 {to}님에게 배정되어 있어 바뀐 것이 없습니다.",
    },
    # a ticket's status as the asker reads it (the thread note, "already with the team")
    "status_open": {"en": "open", "ko": "담당자 확인 대기 중"},
    "status_claimed": {"en": "claimed by {who}", "ko": "{who}님이 담당 중"},
    "status_resolved_by": {"en": "resolved by {who}", "ko": "{who}님이 해결 완료"},
    "status_resolved": {"en": "resolved", "ko": "해결 완료"},
    "status_closed": {"en": "closed by the asker", "ko": "질문하신 분이 닫음"},
    # the staff's short forms: the ticket list, the dashboard's rows, the card's SLA
    "age_minutes": {"en": "{n}m", "ko": "{n}분"},
    "age_hours": {"en": "{n}h", "ko": "{n}시간"},
    "age_days": {"en": "{n}d", "ko": "{n}일"},
    "sla_done": {"en": "done", "ko": "완료"},
    "sla_waiting_for_hours": {"en": "waiting for business hours", "ko": "근무 시간 대기 중"},
    "sla_past_every_deadline": {"en": "past every deadline", "ko": "모든 기한 지남"},
    "sla_no_deadline": {"en": "no deadline", "ko": "기한 없음"},
    "sla_overdue": {"en": "overdue {age}", "ko": "기한 {age} 초과"},
    "sla_next_deadline": {"en": "next deadline in {age}", "ko": "다음 기한까지 {age}"},
    "reason_low_confidence": {"en": "the bot was not confident", "ko": "봇의 확신이 부족함"},
    "reason_asked_for_human": {"en": "asked for a person", "ko": "사람을 요청함"},
    "reason_not_helpful": {"en": "marked the answer not helpful", "ko": "답변이 도움이 되지 않았다고 표시함"},
    "reason_unanswered_followups": {
        "en": "follow-up questions went unanswered",
        "ko": "추가 질문에 답하지 못함",
    },
    "reason_error": {"en": "the bot failed while answering", "ko": "답변 중 봇에 오류가 남"},
    "reason_admin": {"en": "escalated by an admin", "ko": "관리자가 넘김"},
    "ticket_word_open": {"en": "open", "ko": "열림"},
    "ticket_word_claimed": {"en": "claimed", "ko": "담당 중"},
    "ticket_word_resolved": {"en": "resolved", "ko": "해결됨"},
    "ticket_word_closed": {"en": "closed", "ko": "닫힘"},
    "ticket_line": {
        "en": "- #{ticket} [{status}{who}] {age} old, {reason}, SLA {sla}: {question}",
        "ko": "- #{ticket} [{status}{who}] {age} 경과, {reason}, SLA {sla}: {question}",
    },
    "sla_assignee": {
        "en": "Reminder: ticket #{ticket} is waiting for a reply (claimed, no reply from the team for a while).",
        "ko": "알림: 티켓 #{ticket}이 답변을 기다리고 있습니다 (담당자가 정해졌지만 한동안 답변이 없습니다).",
    },
    "sla_after_hours": {
        "en": "Ticket #{ticket} came in outside business hours and is waiting for a first response.",
        "ko": "티켓 #{ticket}은 근무 시간 외에 접수되어 첫 응답을 기다리고 있습니다.",
    },
    "sla_reannounce": {
        "en": "Ticket #{ticket} still has no response after {waited}. Can someone take it?",
        "ko": "티켓 #{ticket}이 {waited} 동안 응답이 없습니다. 담당해 주실 분 계신가요?",
    },
    # a reopened ticket's reminders: it had a response, before it was resolved
    "sla_after_hours_reopened": {
        "en": "Ticket #{ticket} was reopened outside business hours and is waiting for a response.",
        "ko": "티켓 #{ticket}이 근무 시간 외에 다시 열려 응답을 기다리고 있습니다.",
    },
    "sla_reannounce_reopened": {
        "en": "Ticket #{ticket} was reopened {waited} ago and has no response since. Can someone take it?",
        "ko": "티켓 #{ticket}이 다시 열린 지 {waited}이 지났지만 응답이 없습니다. 담당해 주실 분 계신가요?",
    },
    "sla_second_tier_reopened": {
        "en": "Escalating ticket #{ticket}: reopened {waited} ago, no response since.",
        "ko": "티켓 #{ticket}을 상위 담당자에게 올립니다: 다시 열린 뒤 {waited} 동안 응답이 없었습니다.",
    },
    # business hours as the asker reads them: the days of the week, Monday first
    "weekdays": {"en": "Mon Tue Wed Thu Fri Sat Sun", "ko": "월 화 수 목 금 토 일"},
    "hours_always": {"en": "around the clock", "ko": "24시간"},
    # a direct message's reopened ticket, told to staff in the triage channel
    "reopened_for_staff": {
        "en": "Ticket #{ticket} was reopened: the asker wrote again after it was resolved.",
        "ko": "티켓 #{ticket}이 다시 열렸습니다: 해결 후 질문하신 분이 다시 글을 남겼습니다.",
    },
    "sla_second_tier": {
        "en": "Escalating ticket #{ticket}: no response after {waited}.",
        "ko": "티켓 #{ticket}을 상위 담당자에게 올립니다: {waited} 동안 응답이 없었습니다.",
    },
    "no_command": {
        "en": "There is no command `{named}`. Try `{prefix} help`, or ask a question with `{prefix} ask`.",
        "ko": "`{named}` 명령은 없습니다. `{prefix} help`로 명령을 확인하거나, `{prefix} ask`로 질문해 주세요.",
    },
    "command_for_staff": {
        "en": "`{command}` is for staff only. Ask an admin if you need it.",
        "ko": "`{command}`는 지원팀만 쓸 수 있습니다. 필요하시면 관리자에게 요청해 주세요.",
    },
    "command_for_admin": {
        "en": "`{command}` is for admin only. Ask an admin if you need it.",
        "ko": "`{command}`는 관리자만 쓸 수 있습니다. 필요하시면 관리자에게 요청해 주세요.",
    },
    "staff_only": {
        "en": "Only the support team can claim or resolve tickets.",
        "ko": "티켓 담당과 해결 처리는 지원팀만 할 수 있습니다.",
    },
    "wrong_workspace": {
        "en": "Ticket #{ticket} belongs to another workspace; work on it there.",
        "ko": "티켓 #{ticket}은 다른 워크스페이스의 티켓입니다. 그곳에서 처리해 주세요.",
    },
    "wrong_platform": {
        "en": "Ticket #{ticket} belongs to {platform}; work on it there.",
        "ko": "티켓 #{ticket}은 {platform}에서 처리해 주세요.",
    },
    "rate_prompt": {
        "en": "Ticket #{ticket} is resolved. How did we do?",
        "ko": "티켓 #{ticket}이 해결되었습니다. 도움이 되셨나요?",
    },
    "button_rate_good": {"en": "Good", "ko": "만족"},
    "button_rate_bad": {"en": "Not good", "ko": "불만족"},
    "rate_thanks": {"en": "Thanks for rating!", "ko": "평가해 주셔서 감사합니다!"},
    "rate_already": {"en": "You've already rated this ticket.", "ko": "이미 평가하셨습니다."},
    "rate_not_yours": {
        "en": "Only the person who asked can rate this ticket.",
        "ko": "질문하신 분만 평가할 수 있습니다.",
    },
    "already_escalated": {
        "en": "Your question is already with the support team (ticket #{ticket}, {status}). "
        "They will see this message in the thread too.",
        "ko": "이 질문은 이미 지원팀에 전달되어 있습니다 (티켓 #{ticket}, {status}). 이 메시지도 스레드에서 함께 보게 됩니다.",
    },
    "already_escalated_direct": {
        "en": "Your question is already with the support team (ticket #{ticket}, {status}); "
        "a person will contact you directly.",
        "ko": "이 질문은 이미 지원팀에 전달되어 있습니다 (티켓 #{ticket}, {status}). 담당자가 직접 연락드릴 예정입니다.",
    },
    "asked_for_human": {
        "en": "Sure, I'll get a person.",
        "ko": "네, 담당자를 연결해 드리겠습니다.",
    },
    "not_helpful_escalated": {
        "en": "Sorry that didn't help.",
        "ko": "도움이 되지 못해 죄송합니다.",
    },
    "thanks_feedback": {
        "en": "Thanks for the feedback!",
        "ko": "의견 감사합니다!",
    },
    "error": {
        "en": "Sorry, something went wrong on my side while answering. Your question is saved "
        "and I've flagged it for the team (ticket #{ticket}).",
        "ko": "죄송합니다. 답변하는 중에 문제가 생겼습니다. 질문은 저장되었고 "
        "지원팀에 전달했습니다 (티켓 #{ticket}).",
    },
    "error_lead": {
        "en": "Sorry, something went wrong on my side while answering.",
        "ko": "죄송합니다. 답변하는 중에 문제가 생겼습니다.",
    },
    # a replay that could not look for its earlier post: an answer may be above, or not
    "error_unsure_lead": {
        "en": "Sorry, something on my side kept failing, so I can't tell whether my answer reached you.",
        "ko": "죄송합니다. 제 쪽에서 문제가 계속 생겨 답변이 전달되었는지 확인하지 못했습니다.",
    },
    "asked_by": {"en": "{who} asked: {question}", "ko": "{who}님의 질문: {question}"},
    "error_answer_later": {
        "en": "Sorry, I couldn't take your message just now. I'll answer it as soon as I can.",
        "ko": "죄송합니다. 지금은 메시지를 받지 못했습니다. 가능한 한 빨리 답변드리겠습니다.",
    },
    "replied_privately": {
        "en": "I've replied to you privately.",
        "ko": "본인에게만 보이도록 답했습니다.",
    },
    "error_no_ticket": {
        "en": "Sorry, something went wrong on my side. Please try again in a moment.",
        "ko": "죄송합니다. 문제가 생겼습니다. 잠시 후 다시 시도해 주세요.",
    },
    "install_unread": {
        "en": "Sorry, I could not read this workspace's settings just now. Please try again in a "
        "moment; if this keeps happening, ask an admin to reinstall the app.",
        "ko": "죄송합니다. 지금 이 워크스페이스의 설정을 읽지 못했습니다. 잠시 후 다시 시도해 주세요. "
        "계속 이러면 관리자에게 앱을 다시 설치해 달라고 요청해 주세요.",
    },
    "llm_fallback": {
        "en": "(The language model is unavailable right now, so this answer is quoted from the documentation.)",
        "ko": "(지금은 언어 모델을 사용할 수 없어 문서에서 발췌한 답변입니다.)",
    },
    "also_from": {
        "en": "Also from *{section}*:",
        "ko": "*{section}* 부분에도 관련 내용이 있습니다:",
    },
    "quote_from": {
        "en": "From *{section}*:",
        "ko": "*{section}* 부분의 내용입니다:",
    },
    "quoted_original": {
        "en": "From the documentation (quoted in its original language):",
        "ko": "문서의 관련 내용입니다 (원문 그대로 인용):",
    },
    "llm_wrong_language": {
        "en": "(The language model did not answer in English, so this answer is quoted from the documentation.)",
        "ko": "(언어 모델이 한국어로 답하지 않아, 이 답변은 문서에서 발췌했습니다.)",
    },
    "rate_limited_model": {
        "en": "(You've had many answers from the model this hour, so this one is quoted from the documentation.)",
        "ko": "(이번 시간에 모델 답변을 많이 받으셔서, 이 답변은 문서에서 발췌했습니다.)",
    },
    "button_helpful": {"en": "Helpful", "ko": "도움이 됐어요"},
    "button_not_helpful": {"en": "Not helpful", "ko": "도움이 안 됐어요"},
    "button_human": {"en": "Talk to a person", "ko": "상담원 연결"},
    "button_claim": {"en": "Claim", "ko": "담당하기"},
    "button_resolve": {"en": "Resolve", "ko": "해결 완료"},
    "button_invalid": {
        "en": "That button is no longer valid.",
        "ko": "더 이상 사용할 수 없는 버튼입니다.",
    },
    # the follow-up on an answer nobody confirmed (bot/insights/followups.py)
    "followup_question": {
        "en": "Did this solve it? Press *Solved* if it did; *Still stuck* passes your question to the team.",
        "ko": "문제가 해결되었나요? 해결되었다면 *해결됐어요*를, 아니라면 *아직 안 됐어요*를 눌러 주세요. "
        "지원팀에 질문을 전달해 드립니다.",
    },
    "button_solved": {"en": "Solved", "ko": "해결됐어요"},
    "button_still_stuck": {"en": "Still stuck", "ko": "아직 안 됐어요"},
    "followup_solved": {
        "en": "Glad it's solved! Thanks for letting me know.",
        "ko": "해결되었다니 다행입니다! 알려 주셔서 감사합니다.",
    },
    "followup_still_stuck": {
        "en": "Sorry it's still not working.",
        "ko": "아직 해결되지 않았다니 죄송합니다.",
    },
    "human_not_yours": {
        "en": "This button is for the person who asked. If you need a person too, ask me your "
        'own question or tell me "talk to a person".',
        "ko": "이 버튼은 질문하신 분만 사용할 수 있습니다. 도움이 필요하시면 직접 질문하시거나 "
        '"상담원 연결"이라고 말씀해 주세요.',
    },
    "followup_not_yours": {
        "en": "Only the person who asked can answer this.",
        "ko": "질문하신 분만 답할 수 있습니다.",
    },
    # the terminal's own words (adapters/console.py): typed shortcuts and conversation commands
    "console_no_answer_ticket": {
        "en": "I didn't answer this question, so there is no answer to mark {word}. It is with the "
        "support team (ticket #{ticket}) and a person will reply here. To add details, type /thread "
        "and your message; to ask something else, just type it.",
        "ko": "이 질문에는 제가 답하지 못해서 평가할 답변이 없습니다. 질문은 지원팀에 전달되어 있으며 "
        "(티켓 #{ticket}) 담당자가 여기에 답할 예정입니다. 내용을 더하려면 /thread 뒤에 메시지를 "
        "입력하시고, 다른 질문은 그냥 입력하세요.",
    },
    "console_no_answer": {
        "en": "There is no answer to mark {word} in this conversation. To reach a person, type :human; "
        "to ask something else, just type it.",
        "ko": "이 대화에는 평가할 답변이 없습니다. 담당자와 이야기하려면 :human을 입력하시고, "
        "다른 질문은 그냥 입력하세요.",
    },
    "console_ask_first": {
        "en": "There is no question yet. Type your question: I'll answer it from the documentation "
        "or pass it to a person (say *talk to a person* with it if you want one).",
        "ko": "아직 질문이 없습니다. 질문을 입력해 주세요. 문서로 답하거나 담당자에게 전달해 드립니다 "
        "(담당자를 원하시면 *상담원 연결*이라고 함께 적어 주세요).",
    },
    "console_nothing_to_rate": {
        "en": "There is no resolved ticket to rate yet. When the team resolves your ticket, "
        "I'll ask how we did.",
        "ko": "아직 평가할 해결된 티켓이 없습니다. 지원팀이 티켓을 해결하면 평가를 요청드리겠습니다.",
    },
    "console_new": {
        "en": "New conversation: type your question.",
        "ko": "새 대화입니다. 질문을 입력해 주세요.",
    },
    "console_no_thread": {
        "en": "There is no question to follow up yet: type one first.",
        "ko": "이어서 말할 질문이 아직 없습니다. 먼저 질문을 입력해 주세요.",
    },
    "console_in_thread": {
        "en": "You are in this question's thread now: what you type is a follow-up. /new starts a "
        "fresh conversation.",
        "ko": "이제 이 질문의 스레드에 있습니다. 입력하는 내용은 후속 메시지가 됩니다. "
        "/new를 입력하면 새 대화를 시작합니다.",
    },
    "console_not_text": {
        "en": "I could not read that line: it is not {encoding} text. Type it again, or save the "
        "file as {encoding}.",
        "ko": "그 줄은 {encoding} 텍스트가 아니어서 읽을 수 없습니다. 다시 입력하시거나 파일을 {encoding}(으)로 "
        "저장해 주세요.",
    },
    # {error}: the store's advice (bot/store), which is English: in Korean it stands on a line
    # of its own, not inside the sentence
    "console_store_failed": {
        "en": "That was not sent: {error} Your message is kept: press Enter to send it again.",
        "ko": "전송되지 않았습니다. 메시지는 보관되어 있습니다. Enter를 누르면 다시 보냅니다.\n저장소 오류: {error}",
    },
    # proactive support: bursts and known-issue notices (bot/insights/)
    "incident_notice": {
        "en": "**Known issue:** {text}",
        "ko": "**알려진 문제:** {text}",
    },
    "similar_own_ticket": {
        "en": "_You asked something like this before: ticket #{ticket}, resolved on {date} (linked below)._",
        "ko": "_이전에 비슷한 질문을 하셨습니다: 티켓 #{ticket}, {date}에 해결됨 (아래 링크)._",
    },
    "similar_resolved": {
        "en": "_A similar question was resolved by the team on {date}: see the conversation linked below._",
        "ko": "_비슷한 질문이 {date}에 팀의 답변으로 해결되었습니다. 아래 링크된 대화를 확인해 보세요._",
    },
    "incident_default": {
        "en": "the team knows about this problem and is working on it.",
        "ko": "팀이 이 문제를 알고 있으며 해결 중입니다.",
    },
    "incident_closed": {
        "en": "**Update on the known issue:** {text}",
        "ko": "**알려진 문제 업데이트:** {text}",
    },
    "incident_closed_default": {
        "en": "it has been fixed. If you still see the problem, reply here.",
        "ko": "해결되었습니다. 문제가 계속되면 여기에 답글을 남겨 주세요.",
    },
    # draft-mode channels (bot/privacy/drafts.py): the staff card's buttons and notes
    "button_post": {"en": "Post", "ko": "게시"},
    "button_edit": {"en": "Edit", "ko": "수정"},
    "button_discard": {"en": "Discard", "ko": "버리기"},
    "draft_staff_only": {
        "en": "Only staff can post, edit or discard a draft reply.",
        "ko": "초안 답변의 게시, 수정, 버리기는 담당자만 할 수 있습니다.",
    },
    "draft_decided": {
        "en": "This draft was already {status} by {who}.",
        "ko": "이 초안은 이미 {who}님이 처리했습니다 ({status}).",
    },
    "draft_empty": {
        "en": "There is no answer to post yet: use *Edit* to write one.",
        "ko": "아직 게시할 답변이 없습니다. *수정*을 눌러 답변을 작성해 주세요.",
    },
    "draft_too_long_to_edit": {
        "en": "This draft is {length:,} characters, more than the edit form holds ({limit:,}): editing it "
        "there would drop the rest. *Post* it as it is (and edit the posted message), or *Discard* it "
        "and reply in the thread yourself.",
        "ko": "이 초안은 {length:,}자로 수정 창에 담을 수 있는 길이({limit:,}자)를 넘습니다. 그곳에서 수정하면 "
        "나머지가 사라집니다. *게시*한 뒤 게시된 메시지를 수정하거나, *버리기* 후 스레드에 직접 답해 주세요.",
    },
    "draft_no_form": {
        "en": "A form cannot be opened here. Press *Edit* on the card again.",
        "ko": "여기서는 입력 창을 열 수 없습니다. 카드의 *수정*을 다시 눌러 주세요.",
    },
    "draft_edit_title": {"en": "Edit the reply", "ko": "답변 수정"},
    "draft_edit_label": {"en": "Reply to post", "ko": "게시할 답변"},
    # the onboarding welcome (bot/privacy/journey.py), after a member's first answer
    "welcome": {
        "en": "Welcome, {who}! Since this is your first question here, these guides are a good "
        "place to start: {links}",
        "ko": "{who}님, 환영합니다! 처음 질문하셨네요. 시작할 때 이 안내서들이 도움이 됩니다: {links}",
    },
    # opt-in memory, forget-me and export (bot/privacy/people.py, bot/commands/privacy.py)
    "memory_on": {
        "en": "Memory is on: I'll keep a few facts about you (your language, your plan if you say it, "
        "one line per ticket) to answer you better. `me` shows them; `remember off` deletes them.",
        "ko": "기억 기능이 켜졌습니다. 더 나은 답변을 위해 몇 가지 정보(언어, 말씀하신 요금제, 티켓마다 한 줄)를 "
        "보관합니다. `me`로 확인하고 `remember off`로 삭제할 수 있습니다.",
    },
    "memory_off": {
        "en": "Memory is off, and what I remembered about you is deleted.",
        "ko": "기억 기능이 꺼졌고, 보관하던 정보는 삭제되었습니다.",
    },
    "memory_is_off": {
        "en": "Memory is off: I keep no facts about you. `remember on` turns it on.",
        "ko": "기억 기능이 꺼져 있어 보관하는 정보가 없습니다. `remember on`으로 켤 수 있습니다.",
    },
    "memory_empty": {
        "en": "Memory is on, and I have nothing about you yet.",
        "ko": "기억 기능이 켜져 있지만 아직 보관한 정보가 없습니다.",
    },
    "memory_shown": {"en": "What I remember about you:", "ko": "보관 중인 정보:"},
    "forget_confirm": {
        "en": "This deletes your messages, questions, memory, feedback and drafts quoting you, here and "
        "now; tickets stay only as anonymous counts. It cannot be undone.",
        "ko": "메시지, 질문, 기억, 피드백과 이를 인용한 초안을 지금 바로 삭제합니다. 티켓은 익명 통계로만 "
        "남습니다. 되돌릴 수 없습니다.",
    },
    "button_forget": {"en": "Forget me", "ko": "삭제하기"},
    "button_cancel": {"en": "Cancel", "ko": "취소"},
    "forget_done": {
        "en": "Done: {rows} record(s) about you were deleted or anonymised. I will not remember you "
        "unless you turn memory on again.",
        "ko": "완료: 관련 기록 {rows}건을 삭제하거나 익명화했습니다. 기억 기능을 다시 켜지 않는 한 "
        "기억하지 않습니다.",
    },
    "forget_cancelled": {
        "en": "Cancelled: nothing was deleted.",
        "ko": "취소되었습니다. 삭제된 것은 없습니다.",
    },
    "forget_not_yours": {
        "en": "Only the person who asked to be forgotten can press this.",
        "ko": "삭제를 요청한 본인만 누를 수 있습니다.",
    },
    # `/support tickets` (bot/commands/handlers.py), in the language of whoever runs it
    "tickets_none_open": {"en": "No open tickets.", "ko": "열린 티켓이 없습니다."},
    "tickets_none_mine": {
        "en": "No open tickets are assigned to you.",
        "ko": "나에게 배정된 열린 티켓이 없습니다.",
    },
    "tickets_none_all": {"en": "No tickets here.", "ko": "이곳에는 티켓이 없습니다."},
    "tickets_open": {"en": "{total} open ticket(s), oldest first:", "ko": "열린 티켓 {total}건 (오래된 순):"},
    "tickets_mine": {
        "en": "{total} open ticket(s) assigned to you, oldest first:",
        "ko": "나에게 배정된 열린 티켓 {total}건 (오래된 순):",
    },
    "tickets_all": {"en": "{total} ticket(s), newest first:", "ko": "티켓 {total}건 (최신 순):"},
    "tickets_open_cut": {
        "en": "{total} open ticket(s); showing the {shown} waiting longest:",
        "ko": "열린 티켓 {total}건 중 가장 오래 기다린 {shown}건:",
    },
    "tickets_mine_cut": {
        "en": "{total} open ticket(s) assigned to you; showing the {shown} waiting longest:",
        "ko": "나에게 배정된 열린 티켓 {total}건 중 가장 오래 기다린 {shown}건:",
    },
    "tickets_all_cut": {
        "en": "{total} ticket(s); showing the newest {shown}:",
        "ko": "티켓 {total}건 중 최신 {shown}건:",
    },
    # `/support claim`, `resolve` and `assign` (and staff's presses on a ticket's card, in
    # English): what the person who moved a ticket is told
    "no_ticket": {"en": "There is no ticket #{ticket}.", "ko": "티켓 #{ticket}은 없습니다."},
    "ticket_now": {"en": "Ticket #{ticket} is now {status}.", "ko": "티켓 #{ticket} 상태: 이제 {status}."},
    "ticket_already": {
        "en": "Ticket #{ticket} is already {status}.",
        "ko": "티켓 #{ticket} 상태: 이미 {status}.",
    },
    "thread_not_told": {
        "en": "The thread could not be told (the platform refused the post): please tell the asker there.",
        "ko": "스레드에 알리지 못했습니다(플랫폼이 게시를 거부함). 질문하신 분께 그곳에서 알려 주세요.",
    },
    "resolved_drafted": {
        "en": "The staff reply in the thread became knowledge draft #{draft}: review it with "
        "`/support learn show {draft}`.",
        "ko": "스레드의 담당자 답변이 지식 초안 #{draft}이 되었습니다. "
        "`/support learn show {draft}`로 검토해 주세요.",
    },
    "resolved_draft_kept": {
        "en": "Knowledge draft #{draft} was edited by hand, so it is left as it was saved: review it "
        "with `/support learn show {draft}`.",
        "ko": "지식 초안 #{draft}은 직접 수정된 적이 있어 저장된 그대로 두었습니다. "
        "`/support learn show {draft}`로 검토해 주세요.",
    },
    "reassign_admins_only": {
        "en": "Only admins can reassign tickets.",
        "ko": "티켓 담당자 변경은 관리자만 할 수 있습니다.",
    },
    "not_a_ticket_number": {
        "en": "{typed} is not a ticket number; use the number shown as #N, e.g. 12",
        "ko": "{typed}은(는) 티켓 번호가 아닙니다. #N으로 표시된 번호를 입력해 주세요(예: 12).",
    },
    "not_a_draft_number": {
        "en": "{typed} is not a draft number; use the number shown as #N, e.g. 12",
        "ko": "{typed}은(는) 초안 번호가 아닙니다. #N으로 표시된 번호를 입력해 주세요(예: 12).",
    },
    "note_too_long": {
        "en": "The note is {length:,} characters; keep it under {limit:,}.",
        "ko": "메모가 {length:,}자입니다. {limit:,}자 미만으로 줄여 주세요.",
    },
    # `/support learn`: knowledge drafts made from resolved tickets
    "learn_none": {"en": "No drafts waiting for review.", "ko": "검토를 기다리는 초안이 없습니다."},
    "learn_waiting": {"en": "Drafts waiting for review:", "ko": "검토를 기다리는 초안:"},
    "learn_line": {
        "en": "- #{draft} {title} (from ticket #{ticket}, {visibility})",
        "ko": "- #{draft} {title} (티켓 #{ticket}에서, {visibility})",
    },
    "learn_needs_number": {
        "en": "`learn {action}` needs the draft number, e.g. `learn {action} 3`",
        "ko": "`learn {action}`에는 초안 번호가 필요합니다. 예: `learn {action} 3`",
    },
    "learn_no_draft": {"en": "There is no draft #{draft}.", "ko": "초안 #{draft}은 없습니다."},
    "learn_show": {
        "en": "Draft #{draft} ({status}, {visibility}, from ticket #{ticket})",
        "ko": "초안 #{draft} ({status}, {visibility}, 티켓 #{ticket}에서)",
    },
    "learn_already": {
        "en": "Draft #{draft} was already {status}.",
        "ko": "초안 #{draft}은 이미 {status} 상태입니다.",
    },
    "learn_needs_title": {
        "en": "`learn title` needs the new title, e.g. `learn title 3 Resetting 2FA`",
        "ko": "`learn title`에는 새 제목이 필요합니다. 예: `learn title 3 2단계 인증 초기화`",
    },
    "learn_titled": {
        "en": "Draft #{draft} is now titled: {title}",
        "ko": "초안 #{draft}의 제목을 바꿨습니다: {title}",
    },
    "learn_rejected": {"en": "Draft #{draft} rejected.", "ko": "초안 #{draft}을 거절했습니다."},
    "learn_decided": {
        "en": "Draft #{draft} was already decided.",
        "ko": "초안 #{draft}은 이미 처리되었습니다.",
    },
    "learn_changed": {
        "en": "Draft #{draft} was changed while you approved it, and is still waiting: review it with "
        "`learn show {draft}` and approve again.",
        "ko": "승인하는 동안 초안 #{draft}이 바뀌어 아직 검토를 기다리고 있습니다. "
        "`learn show {draft}`로 확인한 뒤 다시 승인해 주세요.",
    },
    "learn_approved": {
        "en": "Draft #{draft} approved: written to `{path}` and indexed. The bot answers this question now.",
        "ko": "초안 #{draft}을 승인했습니다. `{path}`에 저장하고 색인했으니 이제 봇이 이 질문에 답합니다.",
    },
    # said after a change to the folder on a cluster (bot/cluster.py's SharedKnowledge)
    "others_follow": {
        "en": "The other workers re-read the folder within a minute.",
        "ko": "다른 워커들도 1분 안에 폴더를 다시 읽습니다.",
    },
    # `/support assign` naming someone who is not a person of the platform ("Sam", "@sam")
    "assign_whom": {
        "en": "{typed} is not a user: mention them (@name) or give their user id.",
        "ko": "{typed}은(는) 사용자가 아닙니다. @이름으로 멘션하거나 사용자 ID를 입력해 주세요.",
    },
    "assign_whom_slack": {
        "en": "{typed} is not a Slack user I can assign to: mention them (type @ and pick them from "
        "the list Slack shows) or give their member ID (U or W and capitals and digits, e.g. "
        "U0123ABCD: their profile, ⋮, Copy member ID).",
        "ko": "{typed}(으)로는 Slack 사용자를 찾을 수 없어 배정하지 못했습니다. @를 입력한 뒤 Slack이 "
        "보여 주는 목록에서 골라 멘션하거나, 멤버 ID(U 또는 W로 시작하는 대문자와 숫자, 예: U0123ABCD. "
        "프로필의 ⋮ 메뉴에서 멤버 ID 복사)를 입력해 주세요.",
    },
    "assign_whom_discord": {
        "en": "{typed} is not a Discord user I can assign to: mention them (type @ and pick them from "
        "the list Discord shows) or give their user id (a long number: with Developer Mode on, "
        "right-click them and Copy User ID).",
        "ko": "{typed}(으)로는 Discord 사용자를 찾을 수 없어 배정하지 못했습니다. @를 입력한 뒤 Discord가 "
        "보여 주는 목록에서 골라 멘션하거나, 사용자 ID(긴 숫자. 개발자 모드를 켜고 이름을 오른쪽 클릭한 뒤 "
        "사용자 ID 복사)를 입력해 주세요.",
    },
    "command_out_of_date": {
        "en": "This command has changed since Discord showed it to you. Type `/support help` to "
        "see the commands there are now.",
        "ko": "이 명령은 Discord에 표시된 뒤로 바뀌었습니다. `/support help`로 지금 있는 명령을 확인하세요.",
    },
    "export_part": {"en": "Your data, part {n} of {total}:", "ko": "내 데이터, {total}개 중 {n}번째:"},
    "export_done": {
        "en": "That is everything I keep about you.",
        "ko": "보관 중인 정보는 이것이 전부입니다.",
    },
    "export_cut": {
        "en": "Your data is longer than a few messages, so it was cut short here. An admin can give "
        "you the whole file (`supportbot privacy export`).",
        "ko": "데이터가 길어 여기서 잘렸습니다. 관리자가 전체 파일을 드릴 수 있습니다"
        "(`supportbot privacy export`).",
    },
}


SPOKEN = ("en", "ko")  # the languages every sentence here is written in


def spoken(tag: str | None) -> str | None:
    """The language of a platform's locale tag ("ko", "ko-KR", "en-US") when it is one the
    bot speaks; None when there is no tag or the bot does not speak it."""
    primary = (tag or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in SPOKEN else None


def say(key: str, language: str = "en", **values: object) -> str:
    table = _TEXT[key]
    template = table.get(language) or table["en"]
    return template.format(**values)
