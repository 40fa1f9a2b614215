/*  fuzz/window - libFuzzer target for maintenance windows (node/core/window.c)
    The input is a desired twin document, untrusted text from any twin
    writer. Whatever it is, the parse ends in "no window", valid windows
    within the limits, or malformed with a reason; a malformed member is
    never open; and for valid windows, at several times and offsets, the
    next opening is now when open, else a later time at which it is open
    while the millisecond before is not. The same bytes go to
    window_parse as one window's text. The module is included (fuzz
    targets link proto/ only).  */

#include "node/core/window.c"

static const uint64_t s_times [] = {
    0, 1796601600000ULL, 1796601600000ULL + 6 * DAY_MS + 7199999, 1800000000123ULL,
    4102444800000ULL
};
static const int32_t s_offsets [] = { 0, 3600, -5 * 3600, 5 * 3600 + 1800, 14 * 3600,
                                      -12 * 3600, 99 * 3600 };

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    window_t window;
    int rc = window_from_doc (&window, (const char *) data, size);
    assert (rc == 0 || rc == -1);
    assert ((rc == -1) == window.malformed);
    assert (window.count <= WINDOW_MAX);
    if (window.malformed)
        assert (window.set && window.count == 0 && *window.error);
    if (window.set && !window.malformed)
        assert (window.count >= 1);
    for (size_t index = 0; index < window.count; index++) {
        const window_span_t *span = &window.spans [index];
        assert (span->period == DAY_MIN || span->period == WEEK_MIN);
        assert (span->start < span->period);
        assert (span->length >= 1 && span->length <= span->period);
    }
    for (size_t t = 0; t < sizeof s_times / sizeof *s_times; t++)
        for (size_t o = 0; o < sizeof s_offsets / sizeof *s_offsets; o++) {
            uint64_t now = s_times [t];
            int32_t offset = s_offsets [o];
            uint64_t next = window_next (&window, now, offset);
            bool open = window_open (&window, now, offset);
            char text [WINDOW_DESCRIBE_MAX + 1];
            window_describe (&window, now, offset, text);
            assert (strlen (text) <= WINDOW_DESCRIBE_MAX);
            if (window.malformed) {
                assert (next == 0 && !open && strncmp (text, "malformed: ", 11) == 0);
                continue;
            }
            assert (open == (next == now));
            assert (open == (*text == 0));
            if (!open) {
                assert (next > now && next - now <= (uint64_t) WEEK_MS);
                assert (window_open (&window, next, offset));
                assert (!window_open (&window, next - 1, offset));
            }
        }
    window_span_t span;
    char error [WINDOW_ERROR_MAX + 1];
    if (window_parse ((const char *) data, size, &span, error) == 0) {
        assert (size <= WINDOW_TEXT_MAX && *error == 0);
        assert (span.length >= 1 && span.length <= span.period && span.start < span.period);
    }
    else
        assert (*error);
    return 0;
}
