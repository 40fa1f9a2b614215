#!/usr/bin/env bash
#   swtpm.sh - a throwaway swtpm on free loopback ports, for tests and for
#   trying Weft's TPM code by hand. State lives in a fresh mktemp directory
#   (absolute path) that "stop" removes.
#
#   tests/tpm/swtpm.sh start [--ek-cert]
#       starts swtpm and prints shell assignments to eval:
#       WEFT_SWTPM_DIR=/tmp/weft-swtpm.XXXXXX WEFT_SWTPM_PORT=N
#       WEFT_TPM_TCTI=swtpm:host=127.0.0.1,port=N
#       With --ek-cert the TPM is first provisioned by swtpm_setup with EK
#       certificates from a local CA whose files stay in $WEFT_SWTPM_DIR/ca
#       (swtpm-localca-rootca-cert.pem, issuercert.pem).
#   tests/tpm/swtpm.sh stop DIR
#       kills that swtpm and removes DIR.
#   tests/tpm/swtpm.sh run [--ek-cert] -- COMMAND...
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

s_start () {        #   [--ek-cert]
    local ek_cert=0
    [[ "${1:-}" == --ek-cert ]] && ek_cert=1
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
            --flags not-need-init,startup-clear 2>> "$dir/swtpm.log" || continue
        local tries
        for tries in $(seq 1 100); do
            s_listening "$port" && break
            sleep 0.05
        done
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
        ek=""
        [[ "${1:-}" == --ek-cert ]] && { ek=--ek-cert; shift; }
        [[ "${1:-}" == -- ]] && shift
        (( $# > 0 )) || s_die "run needs a command"
        vars=$(s_start $ek) || exit 1
        eval "$vars"
        export WEFT_SWTPM_DIR WEFT_SWTPM_PORT WEFT_TPM_TCTI
        trap 's_stop "$WEFT_SWTPM_DIR"' EXIT
        trap 'exit 130' INT TERM
        "$@"
        exit $?
        ;;
    *)
        echo "usage: swtpm.sh start [--ek-cert] | stop DIR | run [--ek-cert] -- COMMAND..." >&2
        exit 2
        ;;
esac
