#!/usr/bin/env bash
# Build dist/afinitwin-appliance, the appliance as one executable file.
#
#   build/freeze.sh            one file:   dist/afinitwin-appliance
#   build/freeze.sh --onedir   one folder: dist/afinitwin-appliance-onedir/
#   build/freeze.sh --no-strip keep debug symbols (for size comparisons)
#
# Needs python3 (3.11 or later, built with a shared libpython, as pyenv and
# Debian's are), binutils (strip) and access to PyPI. Everything else goes into
# a private virtual environment under build/work/, so the build does not depend
# on, or change, the Python environment it is started from.
#
# The package is installed from a copy of the checkout rather than from the
# checkout itself: setuptools writes build/lib and *.egg-info next to the
# sources it builds, and this folder is build/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$ROOT/build/work"
PYTHON="${PYTHON:-python3}"
MODE=onefile
STRIP=1

for arg in "$@"; do
    case "$arg" in
        --onedir) MODE=onedir ;;
        --no-strip) STRIP=0 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown option $arg (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$STRIP" = 1 ] && ! command -v strip >/dev/null; then
    echo "error: strip not found; install binutils (apt-get install binutils)" >&2
    exit 1
fi

# 1. A copy of what the wheel is built from, without caches or local files.
STAGE="$WORK/stage"
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp "$ROOT/pyproject.toml" "$STAGE/"
cp -R "$ROOT/afinitwin_appliance" "$ROOT/static" "$STAGE/"
if [ -f "$ROOT/README.md" ]; then
    cp "$ROOT/README.md" "$STAGE/"
else
    # pyproject.toml names README.md as the long description.
    echo "AfiniTwin Appliance" > "$STAGE/README.md"
fi
find "$STAGE" -name __pycache__ -type d -prune -exec rm -rf {} +

# 2. The build environment: the package's dependencies plus PyInstaller.
VENV="$WORK/venv"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
rm -rf "$WORK/wheel"
"${PIP[@]}" wheel --no-deps -w "$WORK/wheel" "$STAGE"
WHEEL="$(ls "$WORK/wheel"/afinitwin_appliance-*.whl)"
"${PIP[@]}" install "$WHEEL[build]"
# Same version number as an earlier build, so force the fresh copy in.
"${PIP[@]}" install --no-deps --force-reinstall "$WHEEL"

# 3. Freeze. Run from the work folder so that nothing in the checkout can be
#    imported in place of the installed package.
cd "$WORK"
AFINITWIN_FREEZE_MODE="$MODE" AFINITWIN_FREEZE_STRIP="$STRIP" \
    "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$ROOT/dist" --workpath "$WORK/pyinstaller-$MODE" \
    "$ROOT/appliance.spec"

if [ "$MODE" = onefile ]; then
    OUT="$ROOT/dist/afinitwin-appliance"
else
    OUT="$ROOT/dist/afinitwin-appliance-onedir/afinitwin-appliance"
fi
echo "built $OUT ($("$OUT" --version))"
