"""The web dashboard for the support team: server-rendered pages under `/admin` over the
same store and services the bot uses (knowledge/dashboard.md). `auth` owns sign-in links,
sessions, CSRF and rights; `pages` the handlers; `app` the aiohttp application and its
guard; `serve` what `supportbot dashboard` runs."""
