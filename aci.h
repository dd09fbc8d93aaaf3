/*
 * aci.h: what the aci backend's two files share: aci.c (container groups) and arm.c
 * (ARM requests, errors, subscription, resource group). Nothing else includes it.
 */
#ifndef LEGION_ACI_H
#define LEGION_ACI_H

#include "legion.h"

#define ACI_API "2023-05-01"
#define RG_API "2021-04-01"
#define SUB_API "2020-01-01"

/* ARM paths under a subscription: a resource group's container groups. */
#define CG_PATH "/resourceGroups/%s/providers/Microsoft.ContainerInstance/containerGroups"
/* The backend's state between open and close. */
struct aci {
	struct auth auth;
	char arm[256];
	char sub[64];
	char rg[128];
	char location[64];
	int parallel, all;
	int rg_cleanup; /* drop the resource group once empty, if Legion made it */
	long long provision_ms;
	char subnet[512];              /* --subnet: private addresses only, or "" */
	char identity[512];            /* --identity: pulls through this identity, or "" */
	char *reg_user, *reg_pass;     /* owned (the password wiped at close), or NULL */
	char authz[4096];              /* "Authorization: Bearer ..." for the current token */
	struct http_throttle throttle; /* ARM's, carried from one fan-out to the next */
};

/* ARM's error code ({"error":{"code"}}) of an answer into code ("" when none). */
void arm_code(const struct http_resp *r, char *code, size_t n);
/* Why ARM refused, for people: "HTTP 400 Code: message", else the transport error.
 * Returns out. */
const char *arm_why(const struct http_resp *r, char *out, size_t n);
int arm_is_quota(const char *code);
/* An answer as an exit code: throttled or down 75, refused 77, no quota or capacity 69,
 * a request ARM found invalid 65. */
int arm_exit(const struct http_resp *r);
/* After a refusal: one line saying what the user can do about it. */
void arm_advise(const struct aci *a, const struct http_resp *r);
/* Refreshes the Authorization header; -1 with *ex set when no token can be had. */
int arm_authorize(struct aci *a, int *ex);
/* An ARM request (hdrs: room for 3) with a's Authorization and JSON content type. */
void arm_req(struct aci *a, struct http_req *q, const char **hdrs, const char *method,
	     const char *url, const char *body, size_t n);
/* n requests, a->parallel at once; a 401 gets one more try with a fresh token. -1 only
 * when no token could be had: check each status. */
int arm_many(struct aci *a, struct http_req *q, struct http_resp *r, int n, int *ex);
/* One request; 0 when a response arrived (any status). */
int arm(struct aci *a, const char *method, const char *url, const char *body, struct http_resp *r,
	int *ex);
/* a->arm + "/subscriptions/" + a->sub + rest (printf-style) into out; the length, as
 * snprintf's. */
int arm_url(const struct aci *a, char *out, size_t n, const char *rest, ...)
	__attribute__((format(printf, 4, 5)));
/* The only subscription the identity sees, into a->sub, when none was named. */
int pick_subscription(struct aci *a, int *ex);
/* 1 when s is 1..max of letters, digits and -_.() (resource group, region names). */
int arm_name_ok(const char *s, size_t max);
/* 1 when id is an ARM resource id /subscriptions/S/resourceGroups/G/providers/TYPE/NAME
 * (TYPE "Namespace/type", matched in any case), followed by /CHILD/NAME when child is
 * given ("subnets"), and nothing else. */
int arm_id_ok(const char *id, const char *type, const char *child);
/* Creates the resource group (tagged legion-managed) unless it exists. */
int ensure_rg(struct aci *a, int *ex);
/* Deletes the resource group when Legion made it and it is empty. */
void drop_rg_if_empty(struct aci *a);

/* aci.c's readers of ARM's answers (also driven by t/fuzz/arm.c). parse_group fills the
 * observed fields of g (and its name, tags, image, when unset) from the containerGroup
 * document at token root. add_listed appends the names and ids (owned) of a list page's
 * groups tagged legion-cluster (= cluster, unless NULL) to *names and *ids (*n of *cap used,
 * grown as needed). */
void parse_group(const struct json *j, int root, struct group *g);
void add_listed(const struct json *j, const char *cluster, char ***names, char ***ids, int *n,
		int *cap);

#endif
