# Names vulture (run by .ci/run on src and benchmarks) reports as unused that are not dead code.
# Each is used by a framework or by the data it describes. Never executed; vulture only parses it.
# ruff: noqa

# pydantic / dataclass fields: read when the object is serialised or shown, not by name in src
raw_outputs  # PlanResult: the surgeon's raw LLM replies, kept for the plan's audit trail
confidence  # watchdog Verdict
category  # forget-quality schema
description  # model registry entry, shown by `repair models`
decided  # serve review item
decided_by  # serve review item
substitute_rate  # Verification: in the reply's JSON and the ledger's public record
request_source  # EditMeta: in the ledger's public record
redacted_by  # Turn: in GET /v1/history
stale_by  # Turn: in GET /v1/history
queued  # Health: in GET /health
owned_by  # ModelCard: in GET /v1/models (OpenAI's shape)
context_length  # ModelCard: in GET /v1/models
prompt_tokens  # Usage: in /v1/chat/completions (OpenAI's shape)
completion_tokens  # Usage
total_tokens  # Usage
finish_reason  # Choice, ChunkChoice: in /v1/chat/completions
_given  # serve/wire.py: a pydantic model_serializer, called when a model is written
_.decided
_.decided_by

# attributes that libraries read
_.row_factory  # sqlite3.Connection
_.hf_quantizer  # transformers: cleared so save_pretrained writes a plain checkpoint
exc  # __exit__(*exc): the context-manager protocol

# Known dead code in the engine's solvers, which the engine v2 issue is rewriting: remove it there,
# then drop the line here. Do not add to this list.
_.from_rows  # edit/solvers.py KeepStats.from_rows, tests only
delta_solve  # edit/solvers.py, tests only
