"""The indexing wing: `sync`, the one core operation that hook, backfill and watch
call, and what it runs: `parsing` (the parser pool, incremental parses),
`symbols` (a commit's symbol table, built where the examples are), `examples`
(one example per changed item, with its cross-file context, screened by
`indexer.secrets`, which the native tokenizer's training uses too). Nothing is
imported here: a hook imports only what it runs.
"""
