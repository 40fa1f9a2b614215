/*  install_test - selftest of the config and firmware handlers on real
    files, over the update rig's store and chunk store (node/core/
    update_rig.h): every step is carried out twice, as after a crash
    that lost its result, and the files are the old ones or the new
    ones. The script handler runs real scripts: tests/e2e/67.  */

#include <dirent.h>
#include "proto/io/filewrite.h"
#include "node/core/update_rig.h"
#include "node/io/install_internal.h"

//  Carry out a step twice: the second must find it done
static int
s_step (install_t *install, update_rig_t *device, const update_rig_release_t *r,
        const char *name, const char *handler, const char *version, int step)
{
    node_action_t action;
    memset (&action, 0, sizeof action);
    action.step = step;
    action.manifest = r->manifest;
    action.manifest_size = r->manifest_size;
    snprintf (action.release, sizeof action.release, "%s", name);
    snprintf (action.release_version, sizeof action.release_version, "%s", version);
    snprintf (action.handler, sizeof action.handler, "%s", handler);
    bool reboot = false;
    char error [UPDATE_ERROR_MAX + 1];
    int rc = 0;
    for (int round = 0; round < 2 && rc == 0; round++) {
        rc = install_step (install, &action, device->store, device->chunks, &reboot, error);
        assert (!reboot);
    }
    return rc;
}

//  Is the file at dir/name these bytes (data NULL: missing)?
static bool
s_file_is (const char *dir, const char *name, const void *data, size_t size)
{
    char *path = zsys_sprintf ("%s/%s", dir, name);
    char *error = NULL;
    size_t got = 0;
    void *text = filewrite_read (path, 1024 * 1024, &got, &error);
    bool same = data? text && got == size && memcmp (text, data, size) == 0: !text;
    free (text);
    free (error);
    free (path);
    return same;
}

//  Entries of dir, hidden ones too
static size_t
s_entries (const char *dir)
{
    DIR *handle = opendir (dir);
    assert (handle);
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle)))
        count += !streq (entry->d_name, ".") && !streq (entry->d_name, "..");
    closedir (handle);
    return count;
}

void
install_test (bool verbose)
{
    printf (" * install: ");
    //  @selftest
    update_rig_t device;
    memset (&device, 0, sizeof device);
    strcpy (device.dir, "/tmp/weft-install-test-XXXXXX");
    assert (mkdtemp (device.dir));
    update_rig_open (&device);
    update_rig_release_t r1, r2;
    update_rig_release_by (&r1, "config", "1.0", 1, "gateway", 1, 0);
    update_rig_release_by (&r2, "config", "2.0", 2, "gateway", 2, 4096);
    update_rig_hold (&device, &r1);
    update_rig_hold (&device, &r2);
    char *dir = zsys_sprintf ("%s/install", device.dir);
    install_t *install = install_new (dir, NULL, 0, 0, verbose);
    assert (install);

    //  config: the one there before Weft; 1.0 committed is the last good
    char *path = zsys_sprintf ("%s/app.conf", dir);
    char *why = NULL;
    assert (filewrite_atomic (path, "rate=1\n", 7, 0644, &why) == 0);
    assert (s_step (install, &device, &r1, "app.conf", "config", "1.0", UPDATE_STEP_STAGE) == 0);
    assert (s_file_is (dir, "app.conf", "rate=1\n", 7));
    assert (s_step (install, &device, &r1, "app.conf", "config", "1.0",
                    UPDATE_STEP_ACTIVATE) == 0);
    assert (s_file_is (dir, "app.conf", r1.artifact, r1.size));
    assert (s_step (install, &device, &r1, "app.conf", "config", "1.0", UPDATE_STEP_COMMIT) == 0);
    assert (s_file_is (dir, ".app.conf.weft-good", r1.artifact, r1.size));
    assert (s_entries (dir) == 2);
    //  Edited in place by its software: the last good one is a copy
    FILE *file = fopen (path, "a");
    assert (file && fputs ("edited\n", file) >= 0 && fclose (file) == 0);
    assert (s_file_is (dir, ".app.conf.weft-good", r1.artifact, r1.size));
    //  2.0 fails its health check: the last good one comes back, not
    //  the edited one the switch replaced
    assert (s_step (install, &device, &r2, "app.conf", "config", "2.0", UPDATE_STEP_STAGE) == 0);
    assert (s_step (install, &device, &r2, "app.conf", "config", "2.0",
                    UPDATE_STEP_ACTIVATE) == 0);
    assert (s_file_is (dir, "app.conf", r2.artifact, r2.size));
    assert (s_step (install, &device, &r2, "app.conf", "config", "2.0",
                    UPDATE_STEP_ROLLBACK) == 0);
    assert (s_file_is (dir, "app.conf", r1.artifact, r1.size));
    assert (s_entries (dir) == 2);
    //  The first configuration rolled back: none before, none after
    assert (s_step (install, &device, &r1, "new.conf", "config", "1.0", UPDATE_STEP_STAGE) == 0);
    assert (s_step (install, &device, &r1, "new.conf", "config", "1.0",
                    UPDATE_STEP_ACTIVATE) == 0);
    assert (s_step (install, &device, &r1, "new.conf", "config", "1.0",
                    UPDATE_STEP_ROLLBACK) == 0);
    assert (s_file_is (dir, "new.conf", NULL, 0) && s_entries (dir) == 2);

    //  firmware: 1.0 flashed and committed, its revision recorded; 2.0
    //  rolled back puts image and revision back
    assert (s_step (install, &device, &r1, "mcu", "firmware", "1.0", UPDATE_STEP_STAGE) == 0);
    assert (s_step (install, &device, &r1, "mcu", "firmware", "1.0",
                    UPDATE_STEP_ACTIVATE) == 0);
    assert (s_file_is (dir, ".mcu.weft-rev", "1.0\n", 4));
    assert (s_step (install, &device, &r1, "mcu", "firmware", "1.0", UPDATE_STEP_COMMIT) == 0);
    assert (s_file_is (dir, "mcu", r1.artifact, r1.size));
    assert (s_entries (dir) == 4);
    assert (s_step (install, &device, &r2, "mcu", "firmware", "2.0", UPDATE_STEP_STAGE) == 0);
    assert (s_step (install, &device, &r2, "mcu", "firmware", "2.0",
                    UPDATE_STEP_ACTIVATE) == 0);
    assert (s_file_is (dir, "mcu", r2.artifact, r2.size));
    assert (s_file_is (dir, ".mcu.weft-rev", "2.0\n", 4));
    assert (s_step (install, &device, &r2, "mcu", "firmware", "2.0",
                    UPDATE_STEP_ROLLBACK) == 0);
    assert (s_file_is (dir, "mcu", r1.artifact, r1.size));
    assert (s_file_is (dir, ".mcu.weft-rev", "1.0\n", 4));
    assert (s_entries (dir) == 4);
    //  The first firmware rolled back: no image, no revision
    assert (s_step (install, &device, &r1, "dsp", "firmware", "1.0", UPDATE_STEP_STAGE) == 0);
    assert (s_step (install, &device, &r1, "dsp", "firmware", "1.0",
                    UPDATE_STEP_ACTIVATE) == 0);
    assert (s_step (install, &device, &r1, "dsp", "firmware", "1.0",
                    UPDATE_STEP_ROLLBACK) == 0);
    assert (s_file_is (dir, "dsp", NULL, 0) && s_file_is (dir, ".dsp.weft-rev", NULL, 0));
    assert (s_entries (dir) == 4);

    //  A handler the device does not have
    assert (s_step (install, &device, &r1, "x", "rauc", "1.0", UPDATE_STEP_STAGE) == -1);

    install_destroy (&install);
    install_destroy (&install);
    update_rig_close (&device);
    char command [320];
    snprintf (command, sizeof command, "rm -rf %s", device.dir);
    assert (system (command) == 0);
    free (path);
    free (dir);
    update_rig_release_free (&r1);
    update_rig_release_free (&r2);
    //  @end
    printf ("OK\n");
}
