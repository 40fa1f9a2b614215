#!/usr/bin/env python3
#   tenancy-check.py - the checks of 47-tenancy-cross on the answers it
#   kept: python3 tenancy-check.py CALLS_DIR SECRETS_FILE CHAINS_FILE
#   Each call left TENANT-N.meta (exit code, the caller's tenant, actor,
#   method, args, target, count field, count max), N.out (weftctl's
#   output) and, for a call about a named object, TENANT-N.missing (the
#   same call about "nope-404"). A tenant's calls are read in their order. Each answer must:
#     - be a weftctl answer (exit 0 or 1: never a usage error or no answer);
#     - name no id, path, operator or tenant of another tenant, unless
#       the request named it itself (or, in the audit log, one of the
#       caller's tenant's requests did: the log holds what they typed);
#     - for a named object, read exactly as for a missing one;
#     - keep a count it carries within what the caller's tenant holds;
#       a count marked "chain" (audit head, verify) is of the caller's
#       tenant's audit chain: the answer names it, and it holds no more
#       than the chain's head before the attacks (CHAINS_FILE: "tenant
#       seq" lines) plus two records per call of the tenant since.
#   Names match as whole words, as grep -w does: "acme" is not found in
#   "acmex". Prints every failure; exits 1 if there was one.
import glob, json, os, re, sys

calls_dir, secrets_file, chains_file = sys.argv[1], sys.argv[2], sys.argv[3]
chains = dict((line.split()[0], int(line.split()[1])) for line in open(chains_file))
secrets = {}
for line in open(secrets_file):
    words = line.split()
    secrets[words[0]] = words[1:]

def named(word, text):
    return re.search(r"(?<![A-Za-z0-9_])" + re.escape(word) + r"(?![A-Za-z0-9_])", text)

typed = {}                      #   Tenant -> what its actors sent so far
failures = []
def order(path):
    tenant, n = os.path.basename(path)[:-5].rsplit("-", 1)
    return (tenant, int(n))

calls = sorted(glob.glob(calls_dir + "/*.meta"), key=order)
for meta_path in calls:
    base = meta_path[:-5]
    meta = open(meta_path).read().split("\n")
    rc, tenant, actor, method, args, target, field, limit = meta[:8]
    out = open(base + ".out").read()
    where = "%s %s %s" % (actor, method, args)
    typed[tenant] = typed.get(tenant, "") + " " + args
    if rc not in ("0", "1"):
        failures.append("%s: exit %s: %s" % (where, rc, out.strip()))
        continue
    for other, words in secrets.items():
        if other == tenant:
            continue
        for word in words:
            if named(word, args):
                continue
            if method.startswith("audit.") and named(word, typed[tenant]):
                continue
            if named(word, out):
                failures.append("%s: the answer names %s of %s: %s"
                                % (where, word, other, out.strip()[:300]))
    try:
        missing = open(base + ".missing").read()
        if out.replace(target, "X") != missing.replace("nope-404", "X"):
            failures.append("%s: '%s' differs from a missing one's '%s'"
                            % (where, out.strip(), missing.strip()))
    except FileNotFoundError:
        pass
    if field and rc == "0":
        answer = json.loads(out)
        value = answer.get(field)
        if limit == "chain":
            n = int(os.path.basename(base).rsplit("-", 1)[1])
            if answer.get("tenant") != tenant:
                failures.append("%s: the chain read is not %s's: %s" % (where, tenant, out))
            limit = str(chains[tenant] + 2 * n)
        if not isinstance(value, int) or value > int(limit):
            failures.append("%s: %s is %s, more than the caller's tenant holds (%s)"
                            % (where, field, value, limit))
for failure in failures[:30]:
    print("LEAK " + failure)
if len(failures) > 30:
    print("... and %d more" % (len(failures) - 30))
print("%d answers checked, %d failures" % (len(calls), len(failures)))
if len(calls) < 300:
    failures.append("too few answers")
sys.exit(1 if failures else 0)
