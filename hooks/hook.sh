#!/bin/sh
# commit-indexer-hook: installed by `commit-indexer hook install`.
# It feeds each new commit to the indexer in the background and returns at once;
# `commit-indexer hook uninstall` removes it and puts back the hook that was here.
hook_type=__HOOK_TYPE__
python=__PYTHON__

# Entered again while this hook type runs (a git command in a chained hook, a hook
# manager that runs the hook it found as its own): the outer run does the work.
case " ${COMMIT_INDEXER_HOOKS-} " in *" $hook_type "*) exit 0 ;; esac
COMMIT_INDEXER_HOOKS="${COMMIT_INDEXER_HOOKS-} $hook_type"
export COMMIT_INDEXER_HOOKS

# CDPATH would make `cd` print the folder it found, and `here` two lines.
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

# The hook that was here before (husky's, lefthook's, your own) runs first, as before.
# A shell script runs under the path it was installed at, since some find their files
# by it (husky's finds `.husky/<hook>` by its own name). A copy of this script never
# runs: a hook manager may have moved ours to that name.
status=0
chained="$here/$hook_type.chained"
if [ -x "$chained" ]; then
    first='' second=''
    { IFS= read -r first; IFS= read -r second; } <"$chained" 2>/dev/null
    case $second in
        *commit-indexer-hook*) ;;
        *)
            case $first in
                "#!/bin/sh" | "#!/usr/bin/env sh")
                    sh -c 'chained=$1; shift; . "$chained"' "$here/$hook_type" "$chained" "$@" \
                        || status=$?
                    ;;
                *) "$chained" "$@" || status=$? ;;
            esac
            ;;
    esac
fi

# Every process started here costs the commit time, so the common case starts few:
# hooks installed in the git dir know where it is without asking git.
if [ -f "$here/../HEAD" ] && [ -d "$here/../objects" ]; then
    state="$here/../commit-indexer"
else
    state=$(git rev-parse --git-common-dir 2>/dev/null)/commit-indexer
fi
[ -d "$state" ] || mkdir -p "$state" 2>/dev/null || exit $status
[ -w "$state" ] || exit $status
# Say there is work, then start a sync only if none is running. A running sync holds
# sync.lock (flock) and syncs again while work is pending, so a burst (a rebase) costs
# one interpreter, not one a commit; a sync that dies lets go of the lock with it.
# (`true`, not `:`: a failed redirection of a special builtin ends the script.)
true 2>/dev/null >"$state/sync.pending" || exit $status

if [ ! -x "$python" ]; then
    if [ ! -e "$state/interpreter-gone" ]; then  # say it once, not on every commit
        echo "commit-indexer: $python is gone; reinstall with \`commit-indexer hook install\`" \
            2>/dev/null >>"$state/hook.log"
        true 2>/dev/null >"$state/interpreter-gone"
    fi
    exit $status
fi
# The lock is taken here, not once Python is up, so the commits of a burst that come
# while it starts leave the work to it; the sync inherits it (descriptor 9). Without
# flock(1) every hook starts an interpreter, and all but one find the lock taken.
{ command exec 9>>"$state/sync.lock"; } 2>/dev/null || exit $status
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
    exit $status
fi
# Detached from git: no inherited stdin/stdout/stderr, so neither git nor a GUI client
# waits for the indexer; in its own session where setsid exists, so closing the
# terminal does not stop it. A sync that cannot start or dies says so in hook.log.
# -P: the work tree (the current folder) is not on Python's path, so a folder of the
# repo's own called `indexer` never runs.
detach=''
command -v setsid >/dev/null 2>&1 && detach=setsid
(
    trap '' HUP
    $detach "$python" -P -m indexer hook-run --type "$hook_type" --repo "$PWD" --lock-fd 9 \
        2>"$state/hook-run.err"
    code=$?
    if [ "$code" -ne 0 ]; then
        {
            echo "$hook_type: the sync did not start or died (exit status $code):"
            tail -n 5 "$state/hook-run.err"
        } >>"$state/hook.log"
    fi
) </dev/null >/dev/null 2>&1 &
exit $status
