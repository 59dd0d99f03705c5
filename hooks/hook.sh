#!/bin/sh
# commit-indexer-hook: installed by `commit-indexer hook install`.
# It feeds each new commit to the indexer in the background and returns at once;
# `commit-indexer hook uninstall` removes it and puts back the hook that was here.
hook_type=__HOOK_TYPE__
python=__PYTHON__
here=$(cd "$(dirname "$0")" && pwd)

# The hook that was here before (pre-commit, husky, your own) runs first, as before.
status=0
if [ -x "$here/$hook_type.legacy" ]; then
    "$here/$hook_type.legacy" "$@" || status=$?
fi

# Every process started here costs the commit time, so the common case starts none:
# hooks installed in the git dir know where it is without asking git.
if [ -f "$here/../HEAD" ] && [ -d "$here/../objects" ]; then
    state="$here/../commit-indexer"
else
    state=$(git rev-parse --git-common-dir 2>/dev/null)/commit-indexer
fi
[ -d "$state" ] || mkdir -p "$state" 2>/dev/null || exit $status
# Say there is work, then start a sync only if none is running: a running sync syncs
# again while work is pending, so a burst (a rebase) costs one interpreter, not one a
# commit. A marker older than 10 minutes is a sync that died: ignore it.
: >"$state/sync.pending"
if [ -e "$state/sync.running" ] && [ -n "$(find "$state/sync.running" -mmin -10 2>/dev/null)" ]; then
    exit $status
fi

if [ -x "$python" ]; then
    # Marked running now, not once Python is up: the commits of a burst that come
    # while it starts must not start interpreters of their own.
    : >"$state/sync.running"
    # Detached from git: no inherited stdin/stdout/stderr, so neither git nor a GUI
    # client waits for the indexer (it logs to hook.log); its own session where
    # setsid exists, so closing the terminal does not stop it.
    detach=
    command -v setsid >/dev/null 2>&1 && detach=setsid
    $detach "$python" -m indexer hook-run --type "$hook_type" --repo "$PWD" \
        </dev/null >/dev/null 2>&1 &
elif [ ! -e "$state/interpreter-gone" ]; then  # say it once, not on every commit
    echo "commit-indexer: $python is gone; reinstall with \`commit-indexer hook install\`" \
        >>"$state/hook.log"
    : >"$state/interpreter-gone"
fi
exit $status
