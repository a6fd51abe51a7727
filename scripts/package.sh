#!/usr/bin/env bash
# Build the Debian package of hvrouter with dpkg-deb (no debhelper, no cargo-deb):
#
#   scripts/package.sh [--profile PROFILE | --binary PATH] [--out DIR]
#
#   --profile PROFILE  cargo profile to build hvrouter with (default: release)
#   --binary PATH      package this already-built hvrouter instead of building one (the
#                      package test passes the binary cargo test just built)
#   --out DIR          where to write the .deb (default: target/debian)
#
# Prints the path of the .deb on its last line. The layout (packaging/debian/README.md):
#   /usr/sbin/hvrouter                       the binary (stripped)
#   /lib/systemd/system/hvrouter.service     packaging/systemd/hvrouter.service
#   /etc/hvrouter/hvrouter.toml              conffile: packaging/debian/hvrouter.toml
#   /etc/default/hvrouter                    conffile, if scripts/ganeti/hvrouter.default exists
#   /usr/lib/hvrouter/ganeti/...             everything else in scripts/ganeti, modes kept
#   /usr/share/doc/hvrouter/...              README, docs, example config, copyright
#   /usr/share/man/man8/hvrouter.8.gz        packaging/debian/hvrouter.8
# and the maintainer scripts of packaging/debian (postinst, prerm, postrm).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
binary=
out=target/debian
while [ $# -gt 0 ]; do
    case "$1" in
    --profile) profile=${2:?--profile needs a value}; shift 2 ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

for tool in dpkg-deb dpkg; do
    command -v "$tool" >/dev/null || { echo "package.sh: $tool is missing" >&2; exit 1; }
done

# Version from Cargo.toml: crates/hvrouter's own, or the workspace's when it inherits it
# (read here rather than through cargo, which may be busy building: the test runs this).
toml_version() { # toml_version FILE SECTION: `version = "..."` of [SECTION]
    awk -v want="[$2]" '/^\[/ { sec = $0 } sec == want && /^version *= *"/ {
        sub(/^version *= *"/, ""); sub(/".*/, ""); print; exit }' "$1"
}
cargo_version=$(toml_version crates/hvrouter/Cargo.toml package)
if [ -z "$cargo_version" ]; then
    cargo_version=$(toml_version Cargo.toml workspace.package)
fi
[ -n "$cargo_version" ] || { echo "package.sh: no version in Cargo.toml" >&2; exit 1; }
# A Cargo pre-release 1.2.0-rc.1 sorts before 1.2.0 only as Debian's 1.2.0~rc.1.
version=${cargo_version//-/\~}

if [ -z "$binary" ]; then
    echo "package.sh: cargo build --profile $profile -p hvrouter" >&2
    "${CARGO:-cargo}" build --locked --profile "$profile" -p hvrouter --bin hvrouter >&2
    dir=$profile
    [ "$profile" = dev ] && dir=debug
    binary=${CARGO_TARGET_DIR:-target}/$dir/hvrouter
fi
[ -x "$binary" ] || { echo "package.sh: $binary is not an executable" >&2; exit 1; }
# The binary must be the one this tree describes.
got=$("$binary" --version)
if [ "$got" != "hvrouter $cargo_version" ]; then
    echo "package.sh: $binary says '$got', Cargo.toml says $cargo_version" >&2
    exit 1
fi

arch=$(dpkg --print-architecture)
work=$(mktemp -d "${TMPDIR:-/tmp}/hvrouter-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
# dpkg-shlibdeps wants the source-package layout: debian/control, debian/PACKAGE/...
root=$work/debian/hvrouter
mkdir -p "$root/DEBIAN"
printf 'Source: hvrouter\n\nPackage: hvrouter\nArchitecture: any\n' >"$work/debian/control"

install -D -m 0755 "$binary" "$root/usr/sbin/hvrouter"
if command -v strip >/dev/null; then
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/sbin/hvrouter"
else
    echo "package.sh: strip (binutils) missing: the binary keeps its symbols" >&2
fi
install -D -m 0644 packaging/systemd/hvrouter.service "$root/lib/systemd/system/hvrouter.service"
install -D -m 0644 packaging/debian/hvrouter.toml "$root/etc/hvrouter/hvrouter.toml"
conffiles=(/etc/hvrouter/hvrouter.toml)

# Ganeti hooks: whatever scripts/ganeti holds now, subdirectories and executable bits
# kept (group/other write bits dropped), editor and Python leftovers skipped.
hooks=$root/usr/lib/hvrouter/ganeti
mkdir -p "$hooks"
(cd scripts/ganeti && find . -mindepth 1 \( -name __pycache__ -o -name '*.pyc' -o -name '*~' \
    -o -name '.*.swp' -o -name hvrouter.default \) -prune -o -print) | sort | while read -r f; do
    f=${f#./}
    if [ -d "scripts/ganeti/$f" ]; then
        install -d -m 0755 "$hooks/$f"
    elif [ -x "scripts/ganeti/$f" ]; then
        install -D -m 0755 "scripts/ganeti/$f" "$hooks/$f"
    else
        install -D -m 0644 "scripts/ganeti/$f" "$hooks/$f"
    fi
done
if [ -f scripts/ganeti/hvrouter.default ]; then
    install -D -m 0644 scripts/ganeti/hvrouter.default "$root/etc/default/hvrouter"
    conffiles+=(/etc/default/hvrouter)
fi

doc=$root/usr/share/doc/hvrouter
install -D -m 0644 README.md "$doc/README.md"
for f in docs/*.md; do
    install -m 0644 "$f" "$doc/"
done
install -m 0644 configs/example.toml "$doc/example.toml"
install -m 0644 packaging/systemd/README.md "$doc/README.systemd.md"
install -m 0644 packaging/debian/copyright "$doc/copyright"
mkdir -p "$root/usr/share/man/man8"
gzip -9n <packaging/debian/hvrouter.8 >"$root/usr/share/man/man8/hvrouter.8.gz"
chmod 0644 "$root/usr/share/man/man8/hvrouter.8.gz"
# A native package (no Debian revision): the changelog is changelog.gz.
{
    echo "hvrouter ($version) unstable; urgency=medium"
    echo
    echo "  * Built from $(git describe --always --dirty 2>/dev/null || echo 'a source tree') by scripts/package.sh."
    echo
    echo " -- hvrouter maintainers <hvrouter@example.invalid>  $(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"
} | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

for s in postinst prerm postrm; do
    install -m 0755 "packaging/debian/$s" "$root/DEBIAN/$s"
done
printf '%s\n' "${conffiles[@]}" >"$root/DEBIAN/conffiles"

if command -v dpkg-shlibdeps >/dev/null; then
    depends=$(cd "$work" && dpkg-shlibdeps -O -edebian/hvrouter/usr/sbin/hvrouter)
    depends=${depends#shlibs:Depends=}
else
    # Without dpkg-dev: the newest glibc symbol version the binary needs.
    glibc=$(grep -ao 'GLIBC_2\.[0-9]*' "$root/usr/sbin/hvrouter" | sort -t. -k2,2n -u | tail -1)
    depends="libc6 (>= ${glibc#GLIBC_}), libgcc-s1"
    echo "package.sh: dpkg-shlibdeps (dpkg-dev) missing: Depends: $depends" >&2
fi
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" \
    -e "s/@INSTALLED_SIZE@/$installed_size/" packaging/debian/control.in >"$root/DEBIAN/control"
# Conffiles are tracked by the conffiles list, not md5sums (as dh_md5sums does).
(cd "$root" && find . \( -path ./DEBIAN -o -path ./etc \) -prune -o -type f -printf '%P\0' |
    sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/hvrouter_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "$deb"
