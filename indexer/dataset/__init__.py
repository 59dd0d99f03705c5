"""The dataset wing: from stored examples to files a trainer reads.

`tokenizer` (the native SentencePiece model and bring-your-own ones, templates),
`budget` (fitting an example's segments into a token budget), `dedup` (exact and near
duplicates), `export` (the split files and the manifest), `card` (the dataset card),
`snapshot` (an export from a store, end to end) and `loader` (a torch Dataset over an
export, and `collate`; the only module that imports torch). Nothing is imported here:
an export must not pay for torch, nor a hook for pyarrow.
"""
