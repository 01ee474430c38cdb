"""Proactive support and insights: what the bot notices and counts without being asked.

- `similarity`: when two questions are the same question (words and retrieval neighbourhood),
  and grouping questions into clusters.
- `metrics`, `report`: the figures defined in knowledge/insights.md, and `supportbot report`.
- `bursts`, `incidents`: many people asking the same thing now; known-issue notices.
- `followups`: asking once whether an answer solved it.
- `gaps`: the questions the documentation does not answer yet, as clusters a team works through.
- `digest`: the weekly summary, posted once.
"""
