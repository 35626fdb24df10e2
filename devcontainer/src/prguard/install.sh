#!/bin/sh
# The prguard dev container feature (https://containers.dev/implementors/features/): installs prguard into a
# virtualenv of its own, links `prguard` and `prguard-install-hooks` onto PATH, and records which git hooks
# the feature's postCreateCommand (`prguard-install-hooks`) writes into the workspace's repository.
#
# The dev container tooling runs this as root while it builds the image, with each option of
# devcontainer-feature.json in an upper-cased environment variable (installPath -> INSTALLPATH). Run by hand,
# the same variables work and the defaults below apply. POSIX sh: it must run on Debian (dash) and Alpine
# (busybox) images alike. Running it again is safe: it reuses the virtualenv when the interpreter is the same
# and reinstalls prguard from SOURCE.
set -eu

SOURCE="${SOURCE:-prguard}"
VERSION="${VERSION:-latest}"
HOOKS="${HOOKS-pre-commit,pre-push}"
PYTHON="${PYTHON:-}"
INSTALLPATH="${INSTALLPATH:-/opt/prguard}"
BINDIR="${BINDIR:-/usr/local/bin}"
FEATURE_DIR=$(cd "$(dirname "$0")" && pwd)

say() { printf 'prguard feature: %s\n' "$*"; }
die() {
    printf 'prguard feature: error: %s\n' "$*" >&2
    exit 1
}

# --- options -------------------------------------------------------------------------------------------
case "$INSTALLPATH" in
    /?*) ;;
    *) die "installPath must be an absolute directory other than /, not '$INSTALLPATH'" ;;
esac
case "$BINDIR" in
    /*) ;;
    *) die "binDir must be an absolute directory, not '$BINDIR'" ;;
esac
INSTALLPATH=${INSTALLPATH%/}

# HOOKS is written into feature.env, which the hook installer sources: only known names may pass.
hooks=""
old_ifs=$IFS
IFS=', '
set -f # no globbing while the value is split
for hook in $HOOKS; do
    case "$hook" in
        pre-commit | pre-push) hooks="${hooks:+$hooks }$hook" ;;
        none) ;;
        *) die "hooks: unknown hook '$hook' (give pre-commit, pre-push, both comma-separated, or none)" ;;
    esac
done
set +f
IFS=$old_ifs

# What pip installs. A path must start with /, ./ or ../ (relative ones are resolved against this feature's
# folder, which the tooling copies into the image build); git URLs take VERSION as the ref to check out; a
# bare name is a PyPI requirement that VERSION pins.
case "$SOURCE" in
    /* | ./* | ../*)
        case "$SOURCE" in /*) spec=$SOURCE ;; *) spec="$FEATURE_DIR/$SOURCE" ;; esac
        [ -e "$spec" ] || die "source path '$spec' does not exist"
        [ "$VERSION" = latest ] || die "version applies to a PyPI name or a git URL, not to the path '$SOURCE'"
        ;;
    git+*)
        command -v git >/dev/null 2>&1 || die "git is needed to install from '$SOURCE' (add the git feature)"
        if [ "$VERSION" = latest ]; then spec=$SOURCE; else spec="$SOURCE@$VERSION"; fi
        ;;
    *://*)
        [ "$VERSION" = latest ] || die "version applies to a PyPI name or a git URL, not to '$SOURCE'"
        spec=$SOURCE
        ;;
    *)
        if [ "$VERSION" = latest ]; then
            spec=$SOURCE
        else
            case "$SOURCE" in
                *[\<\>=!~\ ]*) die "source '$SOURCE' already pins a version: leave version as latest" ;;
            esac
            spec="$SOURCE==$VERSION"
        fi
        ;;
esac

# --- Python 3.11+ --------------------------------------------------------------------------------------
python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; }
python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo unknown; }

py=""
if [ -n "$PYTHON" ]; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "python '$PYTHON' was not found; prguard needs Python 3.11 or newer"
    python_ok "$PYTHON" \
        || die "'$PYTHON' is Python $(python_version "$PYTHON"); prguard needs Python 3.11 or newer"
    py=$(command -v "$PYTHON")
else
    # python3 first: the interpreter the image (or the python feature) chose as its default.
    for candidate in python3 python3.14 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            py=$(command -v "$candidate")
            break
        fi
    done
    [ -n "$py" ] || die "Python 3.11 or newer was not found on PATH ($PATH). Use an image with Python 3.11+,\
 add the python feature (ghcr.io/devcontainers/features/python) to devcontainer.json, or set this\
 feature's \"python\" option to the interpreter's path."
fi
# The interpreter's identity: the virtualenv is reused only when it was made by the same one.
python_id=$("$py" -c 'import sys; print(sys._base_executable, sys.version.split()[0])')

# --- the virtualenv ------------------------------------------------------------------------------------
marker="$INSTALLPATH/.prguard-feature"
if [ -e "$INSTALLPATH" ] && [ ! -d "$INSTALLPATH" ]; then
    die "installPath $INSTALLPATH exists and is not a directory"
fi
if [ -d "$INSTALLPATH" ] && [ ! -f "$marker" ] && [ -n "$(ls -A "$INSTALLPATH")" ]; then
    die "$INSTALLPATH exists and was not made by this feature: set installPath to another directory"
fi
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$python_id" ] && "$INSTALLPATH/bin/python" -c '' 2>/dev/null; then
    say "reusing the virtualenv in $INSTALLPATH ($python_id)"
else
    # Only a directory holding our marker (or an empty one) is ever emptied.
    rm -rf "$INSTALLPATH"
    mkdir -p "$INSTALLPATH"
    echo incomplete >"$marker"
    say "creating a virtualenv in $INSTALLPATH with $py ($python_id)"
    "$py" -m venv "$INSTALLPATH" || die "'$py -m venv' failed: on Debian or Ubuntu install the python3-venv\
 package (apt-get install python3-venv), or use the python feature"
fi

# No pip cache in the image unless the caller asked for one (PIP_CACHE_DIR).
cache_flag=--no-cache-dir
[ -z "${PIP_CACHE_DIR:-}" ] || cache_flag=
say "installing $spec"
# shellcheck disable=SC2086 # cache_flag is one word or none
if ! "$INSTALLPATH/bin/python" -m pip install --disable-pip-version-check --quiet $cache_flag --upgrade "$spec"; then
    hint=""
    [ "$SOURCE" != prguard ] || hint=" prguard may not be published on PyPI yet: set this feature's \"source\"\
 option to a git URL (git+https://github.com/<org>/prguard) or a path."
    die "pip could not install '$spec'.$hint"
fi
"$INSTALLPATH/bin/prguard" scan --help >/dev/null || die "prguard was installed but does not run"

# --- the hook installer and its settings ----------------------------------------------------------------
cp "$FEATURE_DIR/install-hooks.sh" "$INSTALLPATH/bin/prguard-install-hooks"
chmod 0755 "$INSTALLPATH/bin/prguard-install-hooks"
{
    echo "# Written by the prguard dev container feature's install.sh; read by prguard-install-hooks."
    echo "PRGUARD_HOOKS='$hooks'"
} >"$INSTALLPATH/feature.env"

mkdir -p "$BINDIR"
for name in prguard prguard-install-hooks; do
    link="$BINDIR/$name"
    if [ -e "$link" ] && [ ! -L "$link" ]; then
        die "$link exists and is not a link to this feature's prguard: remove it or set binDir"
    fi
    ln -sf "$INSTALLPATH/bin/$name" "$link"
done

# The remote user (not root) runs prguard and the hooks, whatever umask the image build had.
chmod -R a+rX "$INSTALLPATH"
echo "$python_id" >"$marker"
say "installed $("$INSTALLPATH/bin/python" -m pip show prguard 2>/dev/null | sed -n 's/^Version: //p') in\
 $INSTALLPATH; hooks for ${_REMOTE_USER:-the remote user}: ${hooks:-none} (written by prguard-install-hooks\
 when the container is created)"
