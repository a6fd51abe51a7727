# hvrouter-nic.sh: the logic shared by hvrouter's Ganeti NIC hooks (POSIX sh; sourced,
# never run). The hooks are thin:
#
#   /etc/ganeti/kvm-ifup-custom, /etc/ganeti/kvm-ifdown-custom     (older Ganeti)
#   /etc/ganeti/network/routed/up, /etc/ganeti/network/routed/down (per-mode form)
#
# each sources this file and calls `hvr_nic_main up|down`. Ganeti runs them as root with
# the NIC in the environment: INTERFACE, MODE, MAC, IP, LINK, INSTANCE, TAGS,
# NETWORK_NAME, NETWORK_SUBNET, NETWORK_GATEWAY, and in newer versions ACTION and
# MIGRATION_PHASE. docs/OPERATIONS.md describes installation and every variable.
#
# What a hook does, for MODE=routed only (any other mode: nothing, exit 0):
#   up    kernel proxy_arp and forwarding off on the tap, tap up, then (unless
#         MIGRATION_PHASE=pre) `hvrouter guest add --tap INTERFACE --mac MAC
#         --network NET --ip IP [--routed-prefix P ...]`. NET is LINK unless
#         HVROUTER_NETWORK is set; P comes from instance tags hvrouter:prefix:P and
#         hvrouter:prefix:NET:P. If the router rejects the add and it knew the tap
#         (a stale entry: Ganeti just created this tap, so the entry belongs to a NIC that
#         is gone, or the NIC was hot-modified), the entry is replaced: del, then add.
#   down  `hvrouter guest del --tap INTERFACE`; never fails (down hooks are best effort).
#
# Exit status: 0 done or nothing to do; 1 the router rejected an up (or could not be
# reached), so Ganeti reports the failure; 2 the environment is invalid for an up.
#
# Environment content is only compared, pattern-matched and passed as single arguments;
# it is never evaluated. Only shell builtins are used apart from `hvrouter`, `ip` and
# `logger`, so the hooks also work with a minimal PATH.
#
# Settings (environment first, then /etc/default/hvrouter, which is parsed as
# KEY=VALUE lines, not sourced):
#   HVROUTER_NETWORK  hvrouter network for every routed NIC of this node (default: LINK)
#   HVROUTER_SOCKET   control socket, passed on to the CLI (default: the CLI's own)
#   HVROUTER_BIN      absolute path of the CLI (default: `hvrouter` in PATH, else
#                     /usr/sbin/hvrouter)
# For tests only: HVROUTER_DEFAULTS (path of the defaults file) and HVROUTER_PROC_SYS
# (root of the sysctl tree, default /proc/sys).

set -f # TAGS and other values are split on blanks: never expand them as globs
LC_ALL=C
export LC_ALL

HVR_TAG=hvrouter-nic
HVR_HEX='[0-9A-Fa-f][0-9A-Fa-f]'

# hvr_log PRIORITY MESSAGE...: to stderr (Ganeti shows it when a hook fails) and to
# syslog when `logger` exists. PRIORITY: info, warning or err.
hvr_log() {
    hvr_prio=$1
    shift
    printf '%s: %s: %s\n' "$HVR_TAG" "$hvr_prio" "$*" >&2
    if command -v logger >/dev/null 2>&1; then
        logger -t "$HVR_TAG" -p "daemon.$hvr_prio" -- "$*" 2>/dev/null || :
    fi
}

# hvr_show VALUE: VALUE if it is safe to put in a log line, else a placeholder.
hvr_show() {
    case $1 in
    '') printf '%s' '(empty)' ;;
    *[!A-Za-z0-9._:/@+,=-]*) printf '%s' '(invalid characters)' ;;
    *)
        if [ "${#1}" -le 128 ]; then printf '%s' "$1"; else printf '%s' '(too long)'; fi
        ;;
    esac
}

# hvr_valid_ifname NAME: a Linux interface name we accept from Ganeti: 1 to 15 bytes of
# letters, digits, '.', '_', '-', not starting with '.' or '-' (so it is neither an
# option nor a path component like ..).
hvr_valid_ifname() {
    case $1 in
    '' | .* | -* | *[!A-Za-z0-9._-]*) return 1 ;;
    esac
    [ "${#1}" -le 15 ]
}

# hvr_valid_name NAME: an hvrouter network name: 1 to 64 of letters, digits, '.', '_',
# '-', not starting with '-'.
hvr_valid_name() {
    case $1 in
    '' | -* | *[!A-Za-z0-9._-]*) return 1 ;;
    esac
    [ "${#1}" -le 64 ]
}

# hvr_valid_mac MAC: six colon-separated pairs of hex digits.
hvr_valid_mac() {
    # shellcheck disable=SC2254 # the patterns are meant to be expanded
    case $1 in
    $HVR_HEX:$HVR_HEX:$HVR_HEX:$HVR_HEX:$HVR_HEX:$HVR_HEX) return 0 ;;
    esac
    return 1
}

# hvr_ipv4 ADDR: succeeds for a dotted-quad IPv4 address (four decimal octets, no
# leading zeros) and sets hvr_ip_int to its value as an integer.
hvr_ipv4() {
    case $1 in
    '' | *[!0-9.]* | .* | *. | *..*) return 1 ;;
    esac
    hvr_ifs=$IFS
    IFS=.
    # shellcheck disable=SC2086 # split on the dots (globbing is off)
    set -- $1
    IFS=$hvr_ifs
    [ "$#" -eq 4 ] || return 1
    hvr_ip_int=0
    for hvr_octet in "$@"; do
        case $hvr_octet in
        0?* | ????*) return 1 ;;
        esac
        [ "$hvr_octet" -le 255 ] || return 1
        hvr_ip_int=$((hvr_ip_int * 256 + hvr_octet))
    done
}

# hvr_prefix PREFIX: succeeds for ADDR/LEN (LEN 0..32, no leading zero) and sets
# hvr_ip_int and hvr_len.
hvr_prefix() {
    case $1 in
    */*) ;;
    *) return 1 ;;
    esac
    hvr_len=${1##*/}
    case $hvr_len in
    '' | *[!0-9]* | 0?*) return 1 ;;
    esac
    [ "$hvr_len" -le 32 ] || return 1
    hvr_ipv4 "${1%/*}"
}

# hvr_in_prefix IP PREFIX: succeeds if IP lies inside PREFIX (both already valid).
hvr_in_prefix() {
    hvr_ipv4 "$1" || return 1
    hvr_a=$hvr_ip_int
    hvr_prefix "$2" || return 1
    [ "$hvr_len" -eq 0 ] && return 0
    hvr_shift=$((32 - hvr_len))
    [ $((hvr_a >> hvr_shift)) -eq $((hvr_ip_int >> hvr_shift)) ]
}

# hvr_read_defaults: settings from /etc/default/hvrouter (KEY=VALUE lines, optional
# `export ` and quotes; unknown keys ignored). The environment wins over the file.
hvr_read_defaults() {
    hvr_file=${HVROUTER_DEFAULTS:-/etc/default/hvrouter}
    hvr_f_network=
    hvr_f_socket=
    hvr_f_bin=
    if [ -r "$hvr_file" ]; then
        while IFS= read -r hvr_line || [ -n "$hvr_line" ]; do
            hvr_line=${hvr_line#export }
            case $hvr_line in
            *=*) ;;
            *) continue ;;
            esac
            hvr_key=${hvr_line%%=*}
            hvr_val=${hvr_line#*=}
            case $hvr_val in
            \"*\")
                hvr_val=${hvr_val#\"}
                hvr_val=${hvr_val%\"}
                ;;
            \'*\')
                hvr_val=${hvr_val#\'}
                hvr_val=${hvr_val%\'}
                ;;
            esac
            case $hvr_key in
            HVROUTER_NETWORK) hvr_f_network=$hvr_val ;;
            HVROUTER_SOCKET) hvr_f_socket=$hvr_val ;;
            HVROUTER_BIN) hvr_f_bin=$hvr_val ;;
            esac
        done <"$hvr_file"
    fi
    hvr_network=${HVROUTER_NETWORK:-$hvr_f_network}
    hvr_socket=${HVROUTER_SOCKET:-$hvr_f_socket}
    hvr_bin=${HVROUTER_BIN:-$hvr_f_bin}
}

# hvr_find_cli: sets hvr_cli to the CLI to run, or fails.
hvr_find_cli() {
    if [ -n "$hvr_bin" ]; then
        case $hvr_bin in
        /*) ;;
        *)
            hvr_log err "HVROUTER_BIN must be an absolute path: $(hvr_show "$hvr_bin")"
            return 1
            ;;
        esac
        hvr_cli=$hvr_bin
    elif hvr_cli=$(command -v hvrouter 2>/dev/null) && [ -n "$hvr_cli" ]; then
        :
    else
        hvr_cli=/usr/sbin/hvrouter
    fi
    if [ ! -x "$hvr_cli" ]; then
        hvr_log err "hvrouter CLI not found or not executable: $(hvr_show "$hvr_cli")"
        return 1
    fi
    if [ -n "$hvr_socket" ]; then
        case $hvr_socket in
        /*)
            HVROUTER_SOCKET=$hvr_socket
            export HVROUTER_SOCKET
            ;;
        *) hvr_log warning "ignoring HVROUTER_SOCKET, not an absolute path: $(hvr_show "$hvr_socket")" ;;
        esac
    fi
}

# hvr_cli_run ARGS...: runs the CLI, output in hvr_out, status in hvr_rc.
hvr_cli_run() {
    hvr_out=$("$hvr_cli" "$@" 2>&1)
    hvr_rc=$?
}

# hvr_sysctl_off KEY: write 0 to the tap's net.ipv4.conf.<tap>.KEY if it exists.
hvr_sysctl_off() {
    hvr_path=${HVROUTER_PROC_SYS:-/proc/sys}/net/ipv4/conf/$hvr_if/$1
    if [ -f "$hvr_path" ]; then
        if ! { echo 0 >"$hvr_path"; } 2>/dev/null; then
            hvr_log warning "$hvr_if: could not write 0 to $hvr_path"
        fi
    fi
}

# hvr_prepare_tap: node-local set-up that is safe on any node at any time. The kernel
# must never proxy-answer or forward for the guest (hvrouter does both; the kernel doing
# it too is how the old setup failed open, and forwarding while hvrouter is stopped would
# route guest packets through the main table). Ganeti's own routed script brought the tap
# up; these hooks replace it, so they do that too.
hvr_prepare_tap() {
    hvr_sysctl_off proxy_arp
    hvr_sysctl_off forwarding
    if command -v ip >/dev/null 2>&1; then
        ip link set dev "$hvr_if" up || hvr_log warning "$hvr_if: ip link set up failed"
    else
        hvr_log warning "$hvr_if: ip(8) not found; tap left as it is"
    fi
}

# hvr_collect_prefixes: routed prefixes for this NIC from TAGS into hvr_prefix_args
# (blank-separated, each validated); fails on a malformed hvrouter:prefix tag.
#   hvrouter:prefix:P       for every routed NIC of the instance
#   hvrouter:prefix:NET:P   only for the NIC on hvrouter network NET
hvr_collect_prefixes() {
    hvr_prefix_args=
    hvr_ifs=$IFS
    IFS=' 	
'
    # shellcheck disable=SC2086 # tags are blank-separated (globbing is off)
    set -- ${TAGS-}
    IFS=$hvr_ifs
    for hvr_tag in "$@"; do
        case $hvr_tag in
        hvrouter:prefix:*) ;;
        *) continue ;;
        esac
        hvr_p=${hvr_tag#hvrouter:prefix:}
        case $hvr_p in
        *:*)
            hvr_pnet=${hvr_p%%:*}
            hvr_p=${hvr_p#*:}
            [ "$hvr_pnet" = "$hvr_network" ] || continue
            ;;
        esac
        if ! hvr_prefix "$hvr_p"; then
            hvr_log err "$hvr_if: instance tag $(hvr_show "$hvr_tag"): not an IPv4 prefix (A.B.C.D/LEN)"
            return 1
        fi
        hvr_prefix_args="$hvr_prefix_args $hvr_p"
    done
}

# hvr_sanity: compare with what Ganeti says about the network. The router's
# configuration owns the network, so mismatches are only logged.
hvr_sanity() {
    if [ -n "${NETWORK_SUBNET-}" ]; then
        if ! hvr_prefix "$NETWORK_SUBNET"; then
            hvr_log warning "$hvr_if: NETWORK_SUBNET $(hvr_show "$NETWORK_SUBNET") is not an IPv4 prefix"
        elif ! hvr_in_prefix "$hvr_ip" "$NETWORK_SUBNET"; then
            hvr_log warning "$hvr_if: $hvr_ip is not inside Ganeti's NETWORK_SUBNET $NETWORK_SUBNET (network $(hvr_show "${NETWORK_NAME-}"))"
        fi
    fi
    if [ -n "${NETWORK_GATEWAY-}" ] && [ "$NETWORK_GATEWAY" = "$hvr_ip" ]; then
        hvr_log warning "$hvr_if: the guest's address $hvr_ip is the network's gateway"
    fi
}

# hvr_add: `guest add` with this NIC's data.
hvr_add() {
    set -- guest add --tap "$hvr_if" --mac "$MAC" --network "$hvr_network" --ip "$hvr_ip"
    for hvr_p in $hvr_prefix_args; do # validated prefixes, blank-separated
        set -- "$@" --routed-prefix "$hvr_p"
    done
    hvr_cli_run "$@"
}

hvr_up() {
    hvr_prepare_tap
    case ${MIGRATION_PHASE-} in
    pre)
        # Target node of a live migration, before it: the guest still runs on the
        # source, which owns the address. Answering here now would steal it.
        hvr_log info "$hvr_if: MIGRATION_PHASE=pre: not adding $(hvr_show "${IP-}") yet (instance $(hvr_show "${INSTANCE-}"))"
        return 0
        ;;
    post | '') ;;
    *)
        hvr_log err "$hvr_if: unknown MIGRATION_PHASE $(hvr_show "$MIGRATION_PHASE"): not adding"
        return 2
        ;;
    esac
    if [ -z "${IP-}" ]; then
        hvr_log info "$hvr_if: routed NIC without an IP address: nothing to route (instance $(hvr_show "${INSTANCE-}"))"
        return 0
    fi
    if ! hvr_ipv4 "$IP"; then
        hvr_log err "$hvr_if: IP $(hvr_show "$IP") is not an IPv4 address"
        return 2
    fi
    hvr_ip=$IP
    if ! hvr_valid_mac "${MAC-}"; then
        hvr_log err "$hvr_if: MAC $(hvr_show "${MAC-}") is not a MAC address"
        return 2
    fi
    hvr_network=${hvr_network:-${LINK-}}
    if ! hvr_valid_name "$hvr_network"; then
        hvr_log err "$hvr_if: no valid hvrouter network: LINK $(hvr_show "${LINK-}"), HVROUTER_NETWORK $(hvr_show "$hvr_network")"
        return 2
    fi
    hvr_collect_prefixes || return 2
    hvr_sanity
    hvr_find_cli || return 1
    hvr_add
    if [ "$hvr_rc" -eq 0 ]; then
        hvr_log info "$hvr_if: guest $hvr_ip on $hvr_network added (instance $(hvr_show "${INSTANCE-}")${hvr_prefix_args:+, prefixes$hvr_prefix_args})"
        return 0
    fi
    hvr_first=$hvr_out
    # Ganeti created this tap just now: an entry the router already has for it is stale
    # (its NIC is gone, or was hot-modified). Replace it; anything else is a rejection.
    hvr_cli_run guest del --tap "$hvr_if"
    if [ "$hvr_rc" -eq 0 ]; then
        hvr_add
        if [ "$hvr_rc" -eq 0 ]; then
            hvr_log info "$hvr_if: replaced the router's previous entry for this tap; guest $hvr_ip on $hvr_network added"
            return 0
        fi
        hvr_first=$hvr_out
    fi
    hvr_log err "$hvr_if: hvrouter rejected guest $hvr_ip on $hvr_network (instance $(hvr_show "${INSTANCE-}")): $hvr_first"
    return 1
}

hvr_down() {
    hvr_find_cli || return 0
    hvr_cli_run guest del --tap "$hvr_if"
    case $hvr_rc:$hvr_out in
    0:*absent* | 0:*Absent*)
        hvr_log info "$hvr_if: the router had no guest on this tap: nothing to remove"
        return 0
        ;;
    0:*)
        hvr_log info "$hvr_if: guest removed (instance $(hvr_show "${INSTANCE-}"))"
        return 0
        ;;
    esac
    case $hvr_out in
    *"no such guest"* | *"No such guest"*)
        hvr_log info "$hvr_if: the router had no guest on this tap: nothing to remove"
        ;;
    *)
        hvr_log warning "$hvr_if: could not remove the guest (exit $hvr_rc): $hvr_out"
        ;;
    esac
    return 0
}

# hvr_nic_main up|down: the hook. The argument is the hook's own direction; a valid
# ACTION from Ganeti overrides it.
hvr_nic_main() {
    hvr_action=$1
    case ${ACTION-} in
    '') ;;
    up | down) hvr_action=$ACTION ;;
    *) hvr_log warning "ignoring unknown ACTION $(hvr_show "$ACTION"); acting as $hvr_action" ;;
    esac
    if [ "${MODE-}" != routed ]; then
        hvr_log info "$(hvr_show "${INTERFACE-}"): MODE $(hvr_show "${MODE-}") is not routed: nothing to do"
        exit 0
    fi
    if ! hvr_valid_ifname "${INTERFACE-}"; then
        hvr_log err "INTERFACE $(hvr_show "${INTERFACE-}") is not a valid interface name: refusing to act"
        if [ "$hvr_action" = up ]; then exit 2; fi
        exit 0
    fi
    hvr_if=$INTERFACE
    case $hvr_if in
    gnt.com.*)
        # Ganeti's instance-communication tap (kvm-ifup-os handles it): not on a VLAN.
        hvr_log info "$hvr_if: instance communication tap: left to Ganeti"
        exit 0
        ;;
    esac
    hvr_read_defaults
    if [ "$hvr_action" = up ]; then
        hvr_up
        exit $?
    fi
    hvr_down
    exit 0
}
