#!/usr/bin/env python3
#   tenancy-check.py - the checks of 47-tenancy-cross on the answers it
#   kept: python3 tenancy-check.py CALLS_DIR SECRETS_FILE
#   Each call left TENANT-N.meta (exit code, the caller's tenant, actor,
#   method, args, target, count field, count max), N.out (weftctl's
#   output) and, for a call about a named object, TENANT-N.missing (the
#   same call about "nope-404"). A tenant's calls are read in their order. Each answer must:
#     - be a weftctl answer (exit 0 or 1: never a usage error or no answer);
#     - name no id, path, operator or tenant of another tenant, unless
#       the request named it itself (or, in the audit log, one of the
#       caller's tenant's requests did: the log holds what they typed);
#     - for a named object, read exactly as for a missing one;
#     - keep a count it carries within what the caller's tenant holds.
#   Names match as whole words, as grep -w does: "acme" is not found in
#   "acmex". Prints every failure; exits 1 if there was one.
import glob, json, os, re, sys

calls_dir, secrets_file = sys.argv[1], sys.argv[2]
secrets = {}
for line in open(secrets_file):
    words = line.split()
    secrets[words[0]] = words[1:]

def named(word, text):
    return re.search(r"(?<![A-Za-z0-9_])" + re.escape(word) + r"(?![A-Za-z0-9_])", text)

typed = {}                      #   Tenant -> what its actors sent so far
failures = []
def order (path):
    tenant, n = os.path.basename (path) [:-5].rsplit ("-", 1)
    return (tenant, int (n))

calls = sorted (glob.glob (calls_dir + "/*.meta"), key=order)
for meta_path in calls:
    base = meta_path [:-5]
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
        value = json.loads(out).get(field)
        if isinstance(value, int) and value > int(limit):
            failures.append("%s: %s is %d, more than the caller's tenant holds (%s)"
                            % (where, field, value, limit))
for failure in failures[:30]:
    print("LEAK " + failure)
if len(failures) > 30:
    print("... and %d more" % (len(failures) - 30))
print("%d answers checked, %d failures" % (len(calls), len(failures)))
if len(calls) < 300:
    failures.append("too few answers")
sys.exit(1 if failures else 0)
