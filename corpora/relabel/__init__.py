"""EMO-SUPERB's typed-description relabelling (source paper 002, Section 3.1, Appendix D).

An LLM reads the annotators' typed descriptions of an utterance together with its vote-based
reference distribution and answers an adjusted distribution and a reason; the adjusted
distributions become new EMO-SUPERB label files. One module per job:

- :mod:`.config`   the typed configuration (``configs/relabel/*.yaml``)
- :mod:`.inputs`   the raw annotations CSV and the released output CSV, checked
- :mod:`.prompt`   the prompt file (required placeholders) and the user message of a batch
- :mod:`.client`   an OpenAI-compatible chat-completions client (retries, rate limit, timeout)
- :mod:`.cache`    the response cache (sha256 of prompt, model, batch and parameters)
- :mod:`.repair`   strict parsing and validation of answers, every repair counted
- :mod:`.engine`   batching, re-asking, falling back to the reference (counted and listed)
- :mod:`.merge`    new label files, the diff report; :mod:`.figure` the paper's Fig. 5
- :mod:`.job`      one relabelling (LLM or ingest of a released output) end to end

Data preparation only (layer 1): nothing here trains or imports a task.
"""
