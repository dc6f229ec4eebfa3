"""The HTTP skin over recodb's SQL functions (Litestar). Not built yet: its endpoints will each
call one function of schema recodb (see DESIGN.md, "The HTTP app")."""
