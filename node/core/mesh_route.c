/*  mesh_route - the path vector toward the coordinator and the reverse
    routes down to devices
    ROUTE adverts carry the sender's whole path; a path holding our own
    name, or too long to extend, is never used (mesh.h). The reverse
    routes are learnt from upward custody traffic and bounded at
    MESH_ROUTES_MAX, oldest forgotten first.  */

#include "proto/corelib.h"
#include "node/core/mesh_internal.h"

//  --------------------------------------------------------------------------
//  Routing

//  Path through link (ours if we route through it), or false.
static bool
s_usable (mesh_t *self, mesh_link_t *link, uint64_t now_ms, int *names)
{
    if (!link->verified || !link->up)
        return false;
    if (link->kind == MESH_LINK_COORDINATOR) {
        *names = 0;
        return true;
    }
    if (!link->path || now_ms > link->heard_ms + MESH_DEAD_ADVERTS * self->advert_ms)
        return false;
    if (qlist_has (self->quarantine, link->peer) || mesh_unattested (self, link, now_ms))
        return false;               //  It would relay nothing for us
    size_t size = strlen (link->path);
    int count = meshmsg_names (link->path, size);
    if (count <= 0 || count >= WEFT_HOP_LIMIT - 1
    ||  meshmsg_has_name (link->path, size, self->name))
        return false;               //  A loop, or too long to extend
    *names = count;
    return true;
}

void
mesh_route_update (mesh_t *self, uint64_t now_ms)
{
    mesh_link_t *best = NULL;
    int best_names = 0;
    for (mesh_link_t *link = (mesh_link_t *) zhashx_first (self->links); link;
         link = (mesh_link_t *) zhashx_next (self->links)) {
        int names;
        if (!s_usable (self, link, now_ms, &names))
            continue;
        bool better = !best || names < best_names
            || (names == best_names && streq (link->name, self->route_link))
            || (names == best_names && !streq (best->name, self->route_link)
                && strcmp (link->peer, best->peer) < 0);
        if (better) {
            best = link;
            best_names = names;
        }
    }
    char path [MESHMSG_PATH_MAX + WEFT_NAME_MAX + 2] = "";
    if (best && best->kind == MESH_LINK_COORDINATOR)
        snprintf (path, sizeof path, "%s", self->name);
    else
    if (best)
        snprintf (path, sizeof path, "%s,%s", self->name, best->path);
    const char *next = best? best->name: "";
    bool link_changed = strcmp (next, self->route_link) != 0;
    bool path_changed = strcmp (path, self->path) != 0;
    if (link_changed) {
        self->stats.route_changes++;
        zsys_info ("mesh: route to the coordinator %s%s%s (%d hops)",
                   best? "via ": "lost", best? (best->kind == MESH_LINK_COORDINATOR?
                   "direct link": best->peer): "", "", best? best_names + 1: 0);
        snprintf (self->route_link, sizeof self->route_link, "%s", next);
        if (best)
            outbox_wake (self->outbox, MESH_COORDINATOR);
    }
    if (strlen (path) > MESHMSG_PATH_MAX) {
        path [0] = 0;               //  Cannot happen: s_usable bounds the ids
        path_changed = self->path [0] != 0;
    }
    if (path_changed) {
        free (self->path);
        self->path = strdup (path);
        //  Triggered update: neighbours learn at once
        for (mesh_link_t *link = (mesh_link_t *) zhashx_first (self->links); link;
             link = (mesh_link_t *) zhashx_next (self->links))
            if (link->verified && link->up && link->kind != MESH_LINK_COORDINATOR)
                mesh_send_advert (self, link, MSG_ROUTE, now_ms);
    }
}

size_t
mesh_distance (mesh_t *self)
{
    assert (self);
    return *self->path? (size_t) meshmsg_names (self->path, strlen (self->path)): 0;
}

//  Remember that device id is reached through neighbour peer.
void
mesh_learn_route (mesh_t *self, const char *device, const char *peer)
{
    if (!self->routes) {
        self->routes = zhashx_new ();
        zhashx_set_destructor (self->routes, mesh_free_item);
        self->route_order = zlistx_new ();
        zlistx_set_destructor (self->route_order, mesh_free_item);
    }
    char *current = (char *) zhashx_lookup (self->routes, device);
    if (current && streq (current, peer))
        return;
    if (!current) {
        mesh_forget_oldest (self->routes, self->route_order, MESH_ROUTES_MAX);
        zlistx_add_end (self->route_order, strdup (device));
    }
    zhashx_update (self->routes, device, strdup (peer));
}

//  Link toward dest, or NULL.
mesh_link_t *
mesh_next_hop (mesh_t *self, const char *dest)
{
    if (streq (dest, MESH_COORDINATOR))
        return *self->route_link? (mesh_link_t *) zhashx_lookup (self->links, self->route_link)
                                : NULL;
    const char *peer = self->routes? (const char *) zhashx_lookup (self->routes, dest): NULL;
    const char *link_name = (const char *) zhashx_lookup (self->peers, dest);
    if (!link_name && peer)
        link_name = (const char *) zhashx_lookup (self->peers, peer);
    mesh_link_t *link = link_name? (mesh_link_t *) zhashx_lookup (self->links, link_name): NULL;
    return link && link->verified && link->up? link: NULL;
}

int
mesh_on_route (mesh_t *self, mesh_link_t *link, const envelope_t *env, uint64_t now_ms)
{
    meshmsg_t msg;
    if (meshmsg_decode (&msg, MSG_ROUTE, env->payload, env->payload_size)) {
        self->stats.malformed++;
        return -1;
    }
    //  The choice of route depends on this link only through whether it
    //  is usable and its path: an advert that changes neither (the usual
    //  periodic one) leaves it as it is, so a node with many neighbours
    //  does not rescan them all for each advert
    int names_before = 0, names_after = 0;
    bool before = s_usable (self, link, now_ms, &names_before);
    bool same_path = streq (link->path? link->path: "", msg.path);
    if (!same_path)
        mesh_link_set_path (link, msg.path);
    link->revocations = msg.revocations;
    link->quarantine = msg.quarantine;
    link->heard_ms = now_ms;
    bool after = s_usable (self, link, now_ms, &names_after);
    if (!same_path || before != after || names_before != names_after)
        mesh_route_update (self, now_ms);
    mesh_send_revocations (self, link);
    mesh_send_quarantine (self, link);
    return 0;
}
