/*  scenario fuzz target - weft-sim's scenario parser on arbitrary bytes
    Includes the parser's source directly (it needs only libc). Every
    input must parse or be refused with a message; a parsed scenario
    must respect the limits the header promises; a campaign's plan is
    JSON text made of the sizes' characters only (nothing to escape).  */

#include <assert.h>
#include "sim/scenario.c"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    scenario_t scenario;
    scenario_defaults (&scenario);
    char error [256];
    error [0] = 0;
    if (scenario_parse (&scenario, (const char *) data, size, error, sizeof error)) {
        assert (error [0]);
        assert (scenario.actions == NULL && scenario.nactions == 0);
        return 0;
    }
    assert (scenario.nactions <= SCN_ACTIONS_MAX);
    assert (scenario.nodes >= 1 && scenario.nodes <= SCN_NODES_MAX);
    assert (scenario.sites >= 1 && scenario.sites <= SCN_SITES_MAX);
    assert (scenario.faults_from_ms <= scenario.faults_to_ms);
    for (size_t i = 0; i < scenario.nactions; i++) {
        const scn_action_t *action = &scenario.actions [i];
        assert (i == 0 || scenario.actions [i - 1].at_ms <= action->at_ms);
        assert (action->at_ms <= SCN_TIME_MAX_MS);
        if (action->kind == SCN_TWIN)
            assert (action->doc && action->doc [0] == '{'
                    && strlen (action->doc) <= SCN_DOC_MAX);
        else
        if (action->kind == SCN_CAMPAIGN)
            //  The plan: an object with waves, of the characters allowed
            assert (action->doc && strncmp (action->doc, "{\"", 2) == 0
                    && strstr (action->doc, "\"waves\":[\"")
                    && action->doc [strlen (action->doc) - 1] == '}'
                    && strspn (action->doc, "{}[]\":,%0123456789abcdefghijklmnopqrstuvwxyz")
                       == strlen (action->doc));
        else
            assert (!action->doc);
    }
    scenario_free (&scenario);
    return 0;
}
