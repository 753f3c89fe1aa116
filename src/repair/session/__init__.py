"""A chat with a patient that forgets on request.

- `conversation`: `Session`, the conversation loop (routing, context, persistence, undo);
- `pipeline`: one forget request, from the watchdog's verdict to a verified, committed edit;
- `subject`: the STAMP-2 path of a request that names a subject;
- `verify`, `guard`: the session's forget criterion and its retain guard;
- `texts`, `reply`: what the session answers;
- `control`: what the user confirms before the weights change, and which turns stay in context;
- `files`, `surgeons`: a session folder, and the surgeons by name.
"""

from repair.session.conversation import Session
from repair.session.reply import Reply

__all__ = ["Reply", "Session"]
