#!/bin/sh
# prguard-install-hooks [REPO]: writes prguard's git hooks into the repository at REPO (default: the current
# directory, which is the workspace folder when the dev container runs it as the feature's postCreateCommand).
#
#   pre-commit  `prguard scan --staged`: a commit that adds a secret is refused before it exists.
#   pre-push    each pushed ref's range is scanned again, `prguard scan --head <pushed commit> --base
#               <remote's commit> --history`: the range's net change and what each of its commits added, so a
#               key committed with --no-verify (or outside the container), even one a later commit deleted,
#               is stopped before it leaves (a prguard without --history scans the net change only).
#
# Hooks go where git looks for them (`git rev-parse --git-path hooks`, which honours core.hooksPath and
# linked worktrees). A hook that is not prguard's (husky, the pre-commit framework, your own) is left alone
# with a note; prguard's own hooks are rewritten, and removed when the feature's "hooks" option no longer
# names them. Running it again changes nothing. The feature's install.sh installs it beside prguard in the
# virtualenv and records the hooks to write in feature.env there; run from anywhere else it uses the prguard
# on PATH and writes both hooks.
set -eu

MARK="installed by prguard-install-hooks"
self=$(readlink -f "$0")
prefix=$(dirname "$(dirname "$self")")
PRGUARD_HOOKS="pre-commit pre-push"
# shellcheck source=/dev/null # written by install.sh
[ ! -f "$prefix/feature.env" ] || . "$prefix/feature.env"

note() { printf 'prguard-install-hooks: %s\n' "$*" >&2; }

prguard="$prefix/bin/prguard"
if [ ! -x "$prguard" ]; then
    prguard=$(command -v prguard) || {
        note "prguard is not installed (neither $prefix/bin/prguard nor on PATH)"
        exit 1
    }
fi
# pre-push adds --history (what each pushed commit added, not only the range's net change) when this
# prguard has it.
history=no
if "$prguard" scan --help 2>/dev/null | grep -q -e '--history'; then history=yes; fi

repo=${1:-.}
if ! top=$(git -C "$repo" rev-parse --show-toplevel 2>&1); then
    note "no hooks installed: $repo is not a git repository we can use ($top)"
    exit 0
fi
hooks_dir=$(cd "$top" && git rev-parse --git-path hooks)
case "$hooks_dir" in /*) ;; *) hooks_dir="$top/$hooks_dir" ;; esac
mkdir -p "$hooks_dir"

# The prguard path as a single-quoted sh word, whatever characters it has.
quoted=$(printf '%s' "$prguard" | sed "s/'/'\\\\''/g; s/^/'/; s/\$/'/")

preamble() {
    cat <<EOF
#!/bin/sh
# prguard: $MARK (the prguard dev container feature); it rewrites this file.
# Bypass once with --no-verify; remove the hook by deleting this file.
prguard=$quoted
if [ ! -x "\$prguard" ]; then
    echo "prguard hook: \$prguard is missing: rebuild the dev container, or delete \$0" >&2
    exit 1
fi
EOF
}

pre_commit() {
    preamble
    # shellcheck disable=SC2016 # written into the hook as is
    echo 'exec "$prguard" scan --staged'
}

pre_push() {
    preamble
    if [ "$history" = yes ]; then echo "history=--history"; else echo "history="; fi
    cat <<'EOF'
# git gives one line per pushed ref: <local ref> <local sha> <remote ref> <remote sha>, and the remote's name
# as $1. Only what is pushed is scanned (committed ranges: never the work tree's uncommitted files).
remote=$1
status=0
while read -r local_ref local_sha remote_ref remote_sha; do
    case "$local_sha" in *[!0]*) ;; *) continue ;; esac # a deleted ref pushes nothing
    if case "$remote_sha" in *[!0]*) git cat-file -e "$remote_sha^{commit}" 2>/dev/null ;; *) false ;; esac; then
        base=$remote_sha
    else
        # A new ref: from a commit of it the remote already has, else from its first commit (which the
        # pre-commit hook scanned when it was made).
        base=$(git rev-list --boundary "$local_sha" --not --remotes="$remote" | sed -n 's/^-//p' | head -n 1)
        [ -n "$base" ] || base=$(git rev-list --max-parents=0 "$local_sha" | tail -n 1)
    fi
    # shellcheck disable=SC2086 # $history is one option or none
    "$prguard" scan --head "$local_sha" --base "$base" $history || status=$?
done
exit "$status"
EOF
}

for name in pre-commit pre-push; do
    target="$hooks_dir/$name"
    ours=no
    if [ -e "$target" ] && grep -q "$MARK" "$target" 2>/dev/null; then ours=yes; fi
    case " $PRGUARD_HOOKS " in
        *" $name "*) ;;
        *)
            if [ "$ours" = yes ]; then
                rm -f "$target"
                note "removed prguard's $name hook (the feature's hooks option no longer names it)"
            fi
            continue
            ;;
    esac
    if [ -e "$target" ] && [ "$ours" = no ]; then
        note "$target is not prguard's: left alone (call prguard from it to get prguard's check)"
        continue
    fi
    tmp="$target.prguard.$$"
    if [ "$name" = pre-commit ]; then pre_commit >"$tmp"; else pre_push >"$tmp"; fi
    chmod 0755 "$tmp"
    mv -f "$tmp" "$target"
    note "$name hook installed in $hooks_dir"
done
