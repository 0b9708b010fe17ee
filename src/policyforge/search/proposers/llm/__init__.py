"""The LLM proposer and what only it needs: `proposer` (OpenAI-compatible chat completions, with its costs
and failures as data), `prompts` (the task's interface, baselines and parents with their feedback, in "full"
or "diff" mode) and `diffs` (fenced code and SEARCH/REPLACE edits out of a reply)."""
