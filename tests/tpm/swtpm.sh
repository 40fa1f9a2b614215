#!/usr/bin/env bash
#   swtpm.sh - a throwaway swtpm on free loopback ports, for tests and for
#   trying Weft's TPM code by hand. State lives in a fresh mktemp directory
#   (absolute path) that "stop" removes.
#
#   tests/tpm/swtpm.sh start [--ek-cert] [--locality 3|4]
#       starts swtpm and prints shell assignments to eval:
#       WEFT_SWTPM_DIR=/tmp/weft-swtpm.XXXXXX WEFT_SWTPM_PORT=N
#       WEFT_TPM_TCTI=swtpm:host=127.0.0.1,port=N
#       With --ek-cert the TPM is first provisioned by swtpm_setup with EK
#       certificates from a local CA whose files stay in $WEFT_SWTPM_DIR/ca
#       (swtpm-localca-rootca-cert.pem, issuercert.pem).
#       With --locality L the TPM is started (TPM2_Startup) at locality L,
#       as a platform whose firmware starts it from locality 3 (or an
#       H-CRTM, 4) does: PCR 0 then starts at 0x00..0L instead of zero.
#   tests/tpm/swtpm.sh stop DIR
#       kills that swtpm and removes DIR.
#   tests/tpm/swtpm.sh run [--ek-cert] [--locality L] -- COMMAND...
#       start, run COMMAND with those variables exported, stop on any exit;
#       exits with COMMAND's status.
#
#   In a test script:
#       eval "$(tests/tpm/swtpm.sh start)"
#       trap 'tests/tpm/swtpm.sh stop "$WEFT_SWTPM_DIR"' EXIT
set -u

s_die () { echo "swtpm.sh: $*" >&2; exit 1; }

s_listening () {    #   port: true if something accepts on 127.0.0.1:port
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

s_provision () {    #   dir: swtpm_setup with a local CA under dir/ca
    local dir=$1
    mkdir -p "$dir/ca" || return 1
    cat > "$dir/swtpm_setup.conf" <<CONF
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $dir/swtpm-localca.conf
create_certs_tool_options = $dir/swtpm-localca.options
active_pcr_banks = sha256
CONF
    cat > "$dir/swtpm-localca.conf" <<CONF
statedir = $dir/ca
signingkey = $dir/ca/signkey.pem
issuercert = $dir/ca/issuercert.pem
certserial = $dir/ca/certserial
CONF
    printf -- '--platform-manufacturer Weft\n--platform-version 2.1\n--platform-model weft-test\n' \
        > "$dir/swtpm-localca.options"
    swtpm_setup --tpm2 --tpmstate "$dir/state" --config "$dir/swtpm_setup.conf" \
        --create-ek-cert --overwrite >> "$dir/swtpm.log" 2>&1
}

#   TPM2_Startup(CLEAR) at locality on the TPM at port (ctrl at port + 1).
#   The data port takes raw TPM commands; the locality is set on the
#   control port (CMD_SET_LOCALITY), then back to 0 for the clients.
s_startup_at () {   #   port locality
    swtpm_ioctl --tcp "127.0.0.1:$(( $1 + 1 ))" -l "$2" > /dev/null || return 1
    python3 - "$1" <<'PY' || return 1
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(bytes.fromhex("80010000000c000001440000"))     # TPM2_Startup(TPM_SU_CLEAR)
reply = s.recv(64)
sys.exit(0 if reply[6:10] == bytes(4) else 1)
PY
    swtpm_ioctl --tcp "127.0.0.1:$(( $1 + 1 ))" -l 0 > /dev/null
}

s_start () {        #   [--ek-cert] [--locality L]
    local ek_cert=0 locality=0
    while (( $# > 0 )); do
        case "$1" in
            --ek-cert) ek_cert=1 ;;
            --locality) locality=${2:-}; shift ;;
            *) s_die "unknown option $1" ;;
        esac
        shift
    done
    [[ "$locality" =~ ^[0-4]$ ]] || s_die "--locality wants 0-4"
    local flags=not-need-init,startup-clear
    (( locality > 0 )) && flags=not-need-init
    command -v swtpm > /dev/null || s_die "swtpm is not installed (apt-get install swtpm swtpm-tools)"
    local dir
    dir=$(mktemp -d /tmp/weft-swtpm.XXXXXX) || s_die "mktemp failed"
    mkdir -p "$dir/state"
    if (( ek_cert )) && ! s_provision "$dir"; then
        cat "$dir/swtpm.log" >&2
        rm -rf "$dir"
        s_die "swtpm_setup failed"
    fi
    local attempt port
    for attempt in $(seq 1 20); do
        port=$(( 20000 + 2 * (RANDOM * 32768 + RANDOM) % 20000 ))
        s_listening "$port" && continue
        s_listening $((port + 1)) && continue
        rm -f "$dir/swtpm.pid"
        swtpm socket --tpm2 --daemon \
            --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
            --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
            --tpmstate "dir=$dir/state" --pid "file=$dir/swtpm.pid" \
            --log "file=$dir/swtpm.log" \
            --flags "$flags" 2>> "$dir/swtpm.log" || continue
        local tries
        for tries in $(seq 1 100); do
            s_listening "$port" && break
            sleep 0.05
        done
        if s_listening "$port" && (( locality > 0 )) && ! s_startup_at "$port" "$locality"; then
            echo "TPM2_Startup at locality $locality failed" >> "$dir/swtpm.log"
            [[ -s "$dir/swtpm.pid" ]] && kill "$(cat "$dir/swtpm.pid")" 2>/dev/null
            break
        fi
        if s_listening "$port"; then
            echo "WEFT_SWTPM_DIR=$dir"
            echo "WEFT_SWTPM_PORT=$port"
            echo "WEFT_TPM_TCTI=swtpm:host=127.0.0.1,port=$port"
            return 0
        fi
        [[ -s "$dir/swtpm.pid" ]] && kill "$(cat "$dir/swtpm.pid")" 2>/dev/null
    done
    cat "$dir/swtpm.log" >&2
    rm -rf "$dir"
    s_die "swtpm did not start"
}

s_stop () {         #   dir
    local dir=${1:-}
    [[ "$dir" == /tmp/weft-swtpm.* && -d "$dir" ]] || s_die "not a swtpm.sh directory: '$dir'"
    if [[ -s "$dir/swtpm.pid" ]]; then
        local pid tries
        pid=$(cat "$dir/swtpm.pid")
        kill "$pid" 2>/dev/null
        for tries in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.02
        done
        kill -9 "$pid" 2>/dev/null
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start)
        shift
        s_start "$@"
        ;;
    stop)
        shift
        s_stop "$@"
        ;;
    run)
        shift
        opts=()
        while (( $# > 0 )) && [[ "$1" != -- ]]; do
            opts+=("$1")
            shift
        done
        [[ "${1:-}" == -- ]] && shift
        (( $# > 0 )) || s_die "run needs a command"
        vars=$(s_start "${opts[@]}") || exit 1
        eval "$vars"
        export WEFT_SWTPM_DIR WEFT_SWTPM_PORT WEFT_TPM_TCTI
        trap 's_stop "$WEFT_SWTPM_DIR"' EXIT
        trap 'exit 130' INT TERM
        "$@"
        exit $?
        ;;
    *)
        echo "usage: swtpm.sh start [--ek-cert] [--locality L] | stop DIR |" \
             "run [--ek-cert] [--locality L] -- COMMAND..." >&2
        exit 2
        ;;
esac
