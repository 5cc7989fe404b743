/* SPDX-License-Identifier: MIT */
/*
 * test_rules.c - the parse and rules modules on their own (store/entry.c,
 * store/rules.c): every way an entry's bytes are refused at step 1 of
 * SPEC.md section 2, every body rule of step 5 with the message a writer
 * is shown, the unit codes and scopes of section 4, and the authorization
 * verdicts given the governing enrollment. Each case changes one member of
 * an entry that is otherwise accepted, so a refusal here is that member's.
 * No replica is needed: these functions are pure.
 */
#include "store_helpers.h"
#include "store_int.h"

#define AUTHOR                                                                 \
    "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define HEX64   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define COMMUNE "72.710.25657"
#define HAMLET  "72.710.25657.3"

static char out_bytes[8192];

/* s with every ' turned into " (the tables read better). */
static const char *
dq(const char *s, char *buf, size_t n)
{
    snprintf(buf, n, "%s", s);
    for (char *p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    return buf;
}

/* The bytes of an entry by AUTHOR at seq 1 with op and body (single
 * quotes for double). In a body, "ID" stands for the record id bound to
 * AUTHOR and seq 1. */
static const char *
entry_bytes(const char *op, const char *body)
{
    char b[4096], rid[NTM_RECORD_ID_LEN + 1], *at;
    dq(body, b, sizeof(b));
    ntm_record_id(rid, AUTHOR, 1);
    while ((at = strstr(b, "ID")) != NULL) {
        char rest[4096];
        snprintf(rest, sizeof(rest), "%s", at + 2);
        snprintf(at, sizeof(b) - (size_t)(at - b), "%s%s", rid, rest);
    }
    snprintf(out_bytes, sizeof(out_bytes),
             "{\"author\":\"%s\",\"body\":%s,\"lc\":0,\"op\":\"%s\","
             "\"prev\":null,\"seq\":1,\"ts\":1700000000,\"v\":1}",
             AUTHOR, b, op);
    return out_bytes;
}

/* Step 1 on bytes (single quotes for double): the verdict, message in msg. */
static enum ntm_err
parse_q(const char *q, char *msg, size_t n)
{
    char b[4096];
    struct Ntm_entry e;
    dq(q, b, sizeof(b));
    enum ntm_err rc = Ntm_entry_parse(&e, b, strlen(b), msg, n);
    Ntm_entry_release(&e);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Step 1: the bytes */

static void
test_parse_accepts_the_baseline(void **state)
{
    (void)state;
    struct Ntm_entry e;
    char msg[256];
    const char *b = entry_bytes("record.update",
                                "{'base':['" HEX64 "'],'id':'ID','set':{}}");
    assert_int_equal(Ntm_entry_parse(&e, b, strlen(b), msg, sizeof(msg)),
                     NTM_OK);
    assert_string_equal(e.author, AUTHOR);
    assert_int_equal(e.seq, 1);
    assert_null(e.prev);
    assert_int_equal(e.ts, 1700000000);
    assert_string_equal(e.op, "record.update");
    assert_non_null(e.record);
    Ntm_entry_release(&e);
    /* an op of 64 bytes is an entry (unknown to the rules), 65 is not */
    char op[65];
    memset(op, 'x', 64);
    op[64] = '\0';
    b = entry_bytes(op, "{}");
    assert_int_equal(Ntm_entry_parse(&e, b, strlen(b), msg, sizeof(msg)),
                     NTM_OK);
    assert_int_equal(Ntm_rules_body(&e, msg, sizeof(msg)), NTM_EBADBODY);
    assert_non_null(strstr(msg, "unknown operation"));
    Ntm_entry_release(&e);
}

/* Each sample differs from an accepted entry in one member; the refusal
 * names what is wrong. */
static void
test_parse_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *bytes, *why;
    } cases[] = {
        {"[1]", "not a JSON object"},
        /* a bare value is not JSON text to the parser */
        {"'x'", "not valid JSON"},
        /* -0 anywhere a number goes, including at the very end */
        {"{'a':-0}", "-0"},
        {"-0", "-0"},
        /* -0.5, -0e1, -0E1 are not -0: refused as non-integers */
        {"{'a':-0.5}", "non-integer"},
        {"{'a':-0e1}", "non-integer"},
        {"{'a':-0E1}", "non-integer"},
        {"{'a':[1,2.5]}", "non-integer"},
        {"{'a':{'b':[9007199254740992]}}", "out-of-range"},
        {"{'a':-9007199254740992}", "out-of-range"},
        {"{'a':1,\t'b':2}", "white space"},
        {"{'a':1,\r'b':2}", "white space"},
        {"{'a':1,\n'b':2}", "white space"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':'x','prev':null,"
         "'seq':1,'ts':1,'v':2}",
         "'v' must be 1"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':'x','prev':null,"
         "'seq':1,'ts':1,'v':'1'}",
         "'v' must be 1"},
        {"{'author':7,'body':{},'lc':0,'op':'x','prev':null,"
         "'seq':1,'ts':1,'v':1}",
         "'author' must be 64"},
        {"{'author':'" HEX64 "0','body':{},'lc':0,'op':'x','prev':null,"
         "'seq':1,'ts':1,'v':1}",
         "'author' must be 64"},
        {"{'author':'A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D"
         "7E8F90','body':{},'lc':0,'op':'x','prev':null,'seq':1,'ts':1,'v':1}",
         "'author' must be 64"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':'x','prev':null,"
         "'seq':'1','ts':1,'v':1}",
         "'seq' must be"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':'x','prev':null,"
         "'seq':0,'ts':1,'v':1}",
         "'seq' must be"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':'x','prev':'" HEX64
         "','seq':1,'ts':1,'v':1}",
         "'prev' must be null"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':'x','prev':null,"
         "'seq':2,'ts':1,'v':1}",
         "'prev' must be the 64-hex id"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':'x','prev':null,"
         "'seq':1,'ts':-5,'v':1}",
         "'ts' must be"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':'x','prev':null,"
         "'seq':1,'ts':'1','v':1}",
         "'ts' must be"},
        {"{'author':'" AUTHOR "','body':{},'lc':-1,'op':'x','prev':null,"
         "'seq':1,'ts':1,'v':1}",
         "'lc' must be"},
        {"{'author':'" AUTHOR "','body':{},'lc':65536,'op':'x','prev':null,"
         "'seq':1,'ts':1,'v':1}",
         "'lc' must be"},
        {"{'author':'" AUTHOR "','body':{},'lc':'0','op':'x','prev':null,"
         "'seq':1,'ts':1,'v':1}",
         "'lc' must be"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':'','prev':null,"
         "'seq':1,'ts':1,'v':1}",
         "'op' must be"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':7,'prev':null,"
         "'seq':1,'ts':1,'v':1}",
         "'op' must be"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':'"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',"
         "'prev':null,'seq':1,'ts':1,'v':1}",
         "'op' must be"},
        {"{'author':'" AUTHOR "','body':[],'lc':0,'op':'x','prev':null,"
         "'seq':1,'ts':1,'v':1}",
         "'body' must be an object"},
        {"{'author':'" AUTHOR "','body':{},'lc':0,'op':'x','prev':null,"
         "'seq':1,'ts':1,'v':1,'w':1}",
         "exactly the members"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[256] = "";
        enum ntm_err rc = parse_q(cases[i].bytes, msg, sizeof(msg));
        if (rc != NTM_EBADENTRY || !strstr(msg, cases[i].why))
            fail_msg("case %zu (%s): rc %d, '%s', want '%s'", i, cases[i].bytes,
                     rc, msg, cases[i].why);
    }
}

/* An empty entry is refused as empty, not handed to the parser. */
static void
test_parse_empty(void **state)
{
    (void)state;
    struct Ntm_entry e;
    char msg[128];
    assert_int_equal(Ntm_entry_parse(&e, "{}", 0, msg, sizeof(msg)),
                     NTM_EBADENTRY);
    assert_string_equal(msg, "entry is empty");
    Ntm_entry_release(&e);
}

/* The parser's own message quotes the input near the error; what comes
 * back is ASCII (it goes into JSON answers and logs) even when the input
 * there is Vietnamese. */
static void
test_parse_error_message_is_ascii(void **state)
{
    (void)state;
    struct Ntm_entry e;
    char msg[256];
    const char *b = "{\"a\":\xe1\xba\xa4p}";
    assert_int_equal(Ntm_entry_parse(&e, b, strlen(b), msg, sizeof(msg)),
                     NTM_EBADENTRY);
    assert_non_null(strstr(msg, "not valid JSON"));
    for (const char *p = msg; *p; p++)
        assert_true((unsigned char)*p < 0x80);
    Ntm_entry_release(&e);
}

/* body.id binds record.* and review entries to a record only when it is a
 * 32-hex id: anything else leaves the entry without a record, which the
 * rules then refuse. */
static void
test_parse_record_binding(void **state)
{
    (void)state;
    static const char *const ids[] = {"7", "'0011223344556677889900112233445'",
                                      "'0011223344556677889900112233445566'",
                                      "'00112233445566778899AABBCCDDEEFF'"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char body[256], msg[256];
        struct Ntm_entry e;
        snprintf(body, sizeof(body), "{'base':['" HEX64 "'],'id':%s}", ids[i]);
        const char *b = entry_bytes("record.delete", body);
        assert_int_equal(Ntm_entry_parse(&e, b, strlen(b), msg, sizeof(msg)),
                         NTM_OK);
        assert_null(e.record);
        assert_int_equal(Ntm_rules_body(&e, msg, sizeof(msg)), NTM_EBADBODY);
        assert_string_equal(msg, "record.delete: 'id' must be 32 hex");
        Ntm_entry_release(&e);
    }
    /* a device entry's body.id is no record */
    struct Ntm_entry e;
    char msg[256];
    const char *b = entry_bytes("device.revoke",
                                "{'after_seq':0,'id':'00112233445566778899aabbc"
                                "cddeeff','key':'" HEX64 "','reason':'lost'}");
    assert_int_equal(Ntm_entry_parse(&e, b, strlen(b), msg, sizeof(msg)),
                     NTM_OK);
    assert_null(e.record);
    Ntm_entry_release(&e);
}

/* The total order of SPEC.md section 2: (ts, lc, author, seq); every
 * replica sorts alike, so each key must decide and the order be
 * antisymmetric. */
static void
test_order(void **state)
{
    (void)state;
    const char *a = AUTHOR, *b = HEX64;
    assert_int_equal(Ntm_order_cmp(1, 0, a, 1, 2, 0, a, 1), -1);
    assert_int_equal(Ntm_order_cmp(2, 0, a, 1, 1, 0, a, 1), 1);
    assert_int_equal(Ntm_order_cmp(1, 1, a, 1, 1, 2, a, 1), -1);
    assert_int_equal(Ntm_order_cmp(1, 2, a, 1, 1, 1, a, 1), 1);
    assert_int_equal(Ntm_order_cmp(1, 2, b, 9, 1, 2, a, 1), -1);
    assert_int_equal(Ntm_order_cmp(1, 2, a, 1, 1, 2, b, 9), 1);
    assert_int_equal(Ntm_order_cmp(1, 2, a, 3, 1, 2, a, 4), -1);
    assert_int_equal(Ntm_order_cmp(1, 2, a, 4, 1, 2, a, 3), 1);
    assert_int_equal(Ntm_order_cmp(1, 2, a, 4, 1, 2, a, 4), 0);
}

/* ------------------------------------------------------------------ */
/* SPEC.md section 4: unit codes and scopes */

static void
test_unit_codes(void **state)
{
    (void)state;
    assert_true(Ntm_unit_code_valid("72"));
    assert_true(Ntm_unit_code_valid(HAMLET));
    assert_true(Ntm_unit_code_valid("123456789"));
    assert_false(Ntm_unit_code_valid(NULL));
    assert_false(Ntm_unit_code_valid(""));
    assert_false(Ntm_unit_code_valid("1234567890")); /* 10 digits */
    assert_false(Ntm_unit_code_valid("72.1234567890"));
    assert_false(Ntm_unit_code_valid(".72"));
    assert_false(Ntm_unit_code_valid("72..710"));
    assert_false(Ntm_unit_code_valid("72."));
    assert_false(Ntm_unit_code_valid("72.a"));
    assert_false(Ntm_unit_code_valid("72/710"));
    /* 64 characters pass, 65 do not */
    char c[80];
    memset(c, 0, sizeof(c));
    for (int i = 0; i < 64; i++)
        c[i] = i % 3 == 2 ? '.' : '1';
    c[63] = '1';
    assert_true(Ntm_unit_code_valid(c));
    c[64] = '1'; /* "...11.11" becomes "...11.111" */
    assert_false(Ntm_unit_code_valid(c));
}

static void
test_scopes(void **state)
{
    (void)state;
    /* the root's empty scope covers the whole country */
    assert_true(Ntm_scope_covers("", HAMLET));
    assert_true(Ntm_scope_covers(COMMUNE, COMMUNE));
    assert_true(Ntm_scope_covers(COMMUNE, HAMLET));
    assert_true(Ntm_scope_covers("72", HAMLET));
    /* a prefix in digits is not a parent unit */
    assert_false(Ntm_scope_covers("72.710.2565", COMMUNE));
    assert_false(Ntm_scope_covers(HAMLET, COMMUNE));
    assert_false(Ntm_scope_covers("72.711", HAMLET));
    assert_false(Ntm_scope_covers(NULL, HAMLET));
    assert_false(Ntm_scope_covers(COMMUNE, NULL));

    assert_string_equal(Ntm_unit_level("72"), "province");
    assert_string_equal(Ntm_unit_level("72.710"), "district");
    assert_string_equal(Ntm_unit_level(COMMUNE), "commune");
    assert_string_equal(Ntm_unit_level(HAMLET), "hamlet");
    assert_string_equal(Ntm_unit_level(HAMLET ".1"), "unit");

    /* organizations: the Front and an enrollment without one see all */
    assert_true(Ntm_org_covers("mttq", "doan"));
    assert_true(Ntm_org_covers("", "doan"));
    assert_true(Ntm_org_covers(NULL, "doan"));
    assert_true(Ntm_org_covers("doan", "doan"));
    assert_false(Ntm_org_covers("doan", "phunu"));
    assert_false(Ntm_org_covers("doan", NULL));

    /* roles */
    assert_true(Ntm_role_allows("recorder", "record.create"));
    assert_false(Ntm_role_allows("recorder", "review"));
    assert_false(Ntm_role_allows("recorder", "unit.create"));
    assert_true(Ntm_role_allows("coordinator", "review"));
    assert_false(Ntm_role_allows("coordinator", "device.enroll"));
    assert_true(Ntm_role_allows("admin", "device.revoke"));
    assert_false(Ntm_role_allows("admin", "record"));
    assert_false(Ntm_role_allows("admin", "plan.set"));
    assert_false(Ntm_role_allows("", "record.create"));
}

/* ------------------------------------------------------------------ */
/* Step 5: the bodies */

struct body_case {
    const char *op, *body, *why; /* why NULL: accepted */
};

static const struct body_case body_cases[] = {
    /* device.enroll */
    {"device.enroll",
     "{'from_seq':3,'key':'" HEX64 "','name':'Ấp 3','org':'doan','role':"
     "'recorder','scope':'" COMMUNE "'}",
     NULL},
    {"device.enroll", "{'key':'" HEX64 "','role':'admin','scope':'72'}", NULL},
    {"device.enroll", "{'key':'" HEX64 "','role':'coordinator','scope':'72'}",
     NULL},
    {"device.enroll", "{'key':'" AUTHOR "0','role':'admin','scope':'72'}",
     "device.enroll: 'key' must be 64 hex"},
    {"device.enroll", "{'key':7,'role':'admin','scope':'72'}",
     "device.enroll: 'key' must be 64 hex"},
    {"device.enroll", "{'key':'" HEX64 "','role':'root','scope':'72'}",
     "device.enroll: 'role' must be"},
    {"device.enroll", "{'key':'" HEX64 "','role':1,'scope':'72'}",
     "device.enroll: 'role' must be"},
    {"device.enroll", "{'key':'" HEX64 "','role':'admin','scope':72}",
     "device.enroll: 'scope' must be a unit code"},
    {"device.enroll", "{'key':'" HEX64 "','role':'admin','scope':'72.'}",
     "device.enroll: 'scope' must be a unit code"},
    {"device.enroll", "{'key':'" HEX64 "','role':'admin','scope':''}",
     "device.enroll: 'scope' must be a unit code"},
    {"device.enroll",
     "{'key':'" HEX64 "','name':1,'role':'admin','scope':'72'}",
     "device.enroll: 'name' and 'org' must be strings"},
    {"device.enroll",
     "{'key':'" HEX64 "','org':null,'role':'admin','scope':'72'}",
     "device.enroll: 'name' and 'org' must be strings"},
    {"device.enroll",
     "{'from_seq':0,'key':'" HEX64 "','role':'admin','scope':'72'}",
     "device.enroll: 'from_seq' must be"},
    {"device.enroll",
     "{'from_seq':'2','key':'" HEX64 "','role':'admin','scope':'72'}",
     "device.enroll: 'from_seq' must be"},
    /* device.revoke */
    {"device.revoke", "{'after_seq':0,'key':'" HEX64 "','reason':'lost'}",
     NULL},
    {"device.revoke", "{'after_seq':0,'key':'" HEX64 "x','reason':'lost'}",
     "device.revoke: 'key' must be 64 hex"},
    {"device.revoke", "{'after_seq':-1,'key':'" HEX64 "','reason':'lost'}",
     "device.revoke: 'after_seq' must be"},
    {"device.revoke", "{'key':'" HEX64 "','reason':'lost'}",
     "device.revoke: 'after_seq' must be"},
    {"device.revoke", "{'after_seq':0,'key':'" HEX64 "'}",
     "device.revoke: 'reason' must be a string"},
    {"device.revoke", "{'after_seq':0,'key':'" HEX64 "','reason':[]}",
     "device.revoke: 'reason' must be a string"},
    /* unit.create */
    {"unit.create",
     "{'base':['" HEX64 "'],'code':'" HAMLET "','level':'hamlet','name':'Ấp "
     "Bến Đình'}",
     NULL},
    {"unit.create", "{'code':'72','level':'province','name':'Tây Ninh'}", NULL},
    {"unit.create", "{'code':'72.710','level':'district','name':'Gò Dầu'}",
     NULL},
    {"unit.create", "{'code':'" COMMUNE "','level':'commune','name':'Thạnh'}",
     NULL},
    {"unit.create", "{'code':'72-710','level':'district','name':'x'}",
     "unit.create: 'code' must be a unit code"},
    {"unit.create", "{'code':72,'level':'province','name':'x'}",
     "unit.create: 'code' must be a unit code"},
    {"unit.create", "{'code':'72','level':'province','name':''}",
     "unit.create: 'name' must be a string"},
    {"unit.create", "{'code':'72','level':'province'}",
     "unit.create: 'name' must be a string"},
    {"unit.create", "{'code':'72','level':'village','name':'x'}",
     "unit.create: 'level' must be"},
    {"unit.create", "{'code':'72','level':3,'name':'x'}",
     "unit.create: 'level' must be"},
    {"unit.create", "{'base':[],'code':'72','level':'province','name':'x'}",
     "unit.create: 'base' must be"},
    {"unit.create",
     "{'base':'" HEX64 "','code':'72','level':'province','name':'x'}",
     "unit.create: 'base' must be"},
    {"unit.create",
     "{'base':['" HEX64 "','" HEX64
     "0'],'code':'72','level':'province','name':'x'}",
     "unit.create: 'base' must be"},
    /* record.create */
    {"record.create",
     "{'fields':{'date':'2019-05-17','task':'t','title':'x','uom':'km','note'"
     ":'','qty':'2.5','people':3,'amount_vnd':0,'x_extra':[1]},'id':'ID',"
     "'kind':'activity','org':'doan','unit':'" HAMLET "'}",
     NULL},
    {"record.create",
     "{'fields':{'den':4,'num':0,'period':'2019-05','task':'t'},'id':'ID',"
     "'kind':'measure','org':'doan','unit':'" HAMLET "'}",
     NULL},
    {"record.create",
     "{'fields':{'date':'2019-05-17','task':'t'},'id':'" HEX64 "',"
     "'kind':'activity','org':'doan','unit':'" HAMLET "'}",
     "record.create: 'id' must be 32 hex"},
    /* an id not bound to this author and seq: a hijack of another's record */
    {"record.create",
     "{'fields':{'date':'2019-05-17','task':'t'},'id':"
     "'00112233445566778899aabbccddeeff','kind':'activity','org':'doan',"
     "'unit':'" HAMLET "'}",
     "the id bound to this author and seq"},
    {"record.create",
     "{'fields':{'date':'2019-05-17','task':'t'},'id':'ID','kind':'plan',"
     "'org':'doan','unit':'" HAMLET "'}",
     "record.create: 'kind' must be activity or measure"},
    {"record.create",
     "{'fields':{'date':'2019-05-17','task':'t'},'id':'ID','kind':1,"
     "'org':'doan','unit':'" HAMLET "'}",
     "record.create: 'kind' must be activity or measure"},
    {"record.create",
     "{'fields':{'date':'2019-05-17','task':'t'},'id':'ID','kind':'activity',"
     "'org':'doan','unit':'72.x'}",
     "record.create: 'unit' must be a unit code"},
    {"record.create",
     "{'fields':{'date':'2019-05-17','task':'t'},'id':'ID','kind':'activity',"
     "'org':'doan'}",
     "record.create: 'unit' must be a unit code"},
    {"record.create",
     "{'fields':{'date':'2019-05-17','task':'t'},'id':'ID','kind':'activity',"
     "'org':'','unit':'" HAMLET "'}",
     "record.create: 'org' must be a string"},
    {"record.create",
     "{'fields':{'date':'2019-05-17','task':'t'},'id':'ID','kind':'activity',"
     "'org':5,'unit':'" HAMLET "'}",
     "record.create: 'org' must be a string"},
    {"record.create",
     "{'fields':[],'id':'ID','kind':'activity','org':'doan','unit':'" HAMLET
     "'}",
     "record.create: 'fields' must be an object"},
    {"record.create",
     "{'fields':{'date':'2019-05-17'},'id':'ID','kind':'activity','org':'doan'"
     ",'unit':'" HAMLET "'}",
     "field 'task' is required"},
    {"record.create",
     "{'fields':{'task':'t'},'id':'ID','kind':'activity','org':'doan'"
     ",'unit':'" HAMLET "'}",
     "field 'date' is required"},
    {"record.create",
     "{'fields':{'den':4,'num':1,'task':'t'},'id':'ID','kind':'measure',"
     "'org':'doan','unit':'" HAMLET "'}",
     "field 'period' is required"},
    {"record.create",
     "{'fields':{'den':4,'period':'2019','task':'t'},'id':'ID','kind':"
     "'measure','org':'doan','unit':'" HAMLET "'}",
     "field 'num' is required"},
    {"record.create",
     "{'fields':{'date':'2019-05-17','task':''},'id':'ID','kind':'activity',"
     "'org':'doan','unit':'" HAMLET "'}",
     "field 'task' must not be empty"},
    /* record.update: one field rule each */
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{'title':'x'}}",
     NULL},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{'date':7}}",
     "field 'date' must be a date"},
    {"record.update",
     "{'base':['" HEX64 "'],'id':'ID','set':{'date':'2019-02-30'}}",
     "field 'date' must be a date"},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{'qty':2}}",
     "field 'qty' must be a decimal"},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{'period':2019}}",
     "field 'period' must be"},
    {"record.update",
     "{'base':['" HEX64 "'],'id':'ID','set':{'period':'2019-13'}}",
     "field 'period' must be"},
    {"record.update",
     "{'base':['" HEX64 "'],'id':'ID','set':{'period':'2019/05'}}",
     "field 'period' must be"},
    {"record.update",
     "{'base':['" HEX64 "'],'id':'ID','set':{'period':'20x9'}}",
     "field 'period' must be"},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{'people':-1}}",
     "field 'people' must be an integer >= 0"},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{'num':'1'}}",
     "field 'num' must be an integer >= 0"},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{'den':0}}",
     "field 'den' must be an integer > 0"},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{'den':'4'}}",
     "field 'den' must be an integer > 0"},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{'uom':3}}",
     "field 'uom' must be a string"},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{'note':null}}",
     "field 'note' must be a string"},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{'deleted':true}}",
     "field 'deleted' is hidden"},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':{}}",
     "record.update: 'set' must be a non-empty object"},
    {"record.update", "{'base':['" HEX64 "'],'id':'ID','set':[1]}",
     "record.update: 'set' must be a non-empty object"},
    {"record.update", "{'base':[],'id':'ID','set':{'title':'x'}}",
     "record.update: 'base' must be"},
    {"record.update", "{'id':'ID','set':{'title':'x'}}",
     "record.update: 'base' must be"},
    {"record.update", "{'base':['" HEX64 "'],'set':{'title':'x'}}",
     "record.update: 'id' must be 32 hex"},
    /* record.delete */
    {"record.delete", "{'base':['" HEX64 "'],'id':'ID'}", NULL},
    {"record.delete", "{'base':[7],'id':'ID'}",
     "record.delete: 'base' must be"},
    {"record.delete", "{'base':['" HEX64 "']}",
     "record.delete: 'id' must be 32 hex"},
    /* review */
    {"review",
     "{'comment':'thiếu ảnh','id':'ID','rev':'" HEX64 "','state':'has_issues'}",
     NULL},
    {"review", "{'id':'ID','rev':'" HEX64 "','state':'approved'}", NULL},
    {"review", "{'id':'ID','rev':'" HEX64 "','state':'rejected'}", NULL},
    {"review", "{'rev':'" HEX64 "','state':'approved'}",
     "review: 'id' must be 32 hex"},
    {"review", "{'id':'ID','rev':'ID','state':'approved'}",
     "review: 'rev' must be an entry id"},
    {"review", "{'id':'ID','rev':'" HEX64 "','state':'ok'}",
     "review: 'state' must be"},
    {"review", "{'id':'ID','rev':'" HEX64 "','state':true}",
     "review: 'state' must be"},
    {"review", "{'comment':5,'id':'ID','rev':'" HEX64 "','state':'approved'}",
     "review: 'comment' must be a string"},
    /* record.attach */
    {"record.attach",
     "{'caption':'Cầu','hash':'" HEX64 "','id':'ID','name':'cau.jpg',"
     "'size':67108864,'type':'image/jpeg'}",
     NULL},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':'a.png','size':1,'type':'image/png'"
     "}",
     NULL},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':'a.pdf','size':1,'type':"
     "'application/pdf'}",
     NULL},
    {"record.attach",
     "{'hash':'" HEX64 "','name':'a.pdf','size':1,'type':'application/pdf'}",
     "record.attach: 'id' must be 32 hex"},
    {"record.attach",
     "{'hash':'ID','id':'ID','name':'a.pdf','size':1,'type':'application/pdf'"
     "}",
     "record.attach: 'hash' must be 64 hex"},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':'a.pdf','size':0,'type':"
     "'application/pdf'}",
     "record.attach: 'size' must be"},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':'a.pdf','size':67108865,'type':"
     "'application/pdf'}",
     "record.attach: 'size' must be"},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':'a.pdf','size':'1','type':"
     "'application/pdf'}",
     "record.attach: 'size' must be"},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':'a.exe','size':1,'type':"
     "'application/x-msdownload'}",
     "record.attach: 'type' must be"},
    {"record.attach", "{'hash':'" HEX64 "','id':'ID','name':'a.pdf','size':1}",
     "record.attach: 'type' must be"},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':'../a.pdf','size':1,'type':"
     "'application/pdf'}",
     "record.attach: 'name' must be a file name"},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':'..\\\\a.pdf','size':1,'type':"
     "'application/pdf'}",
     "record.attach: 'name' must be a file name"},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':'a\\u0007.pdf','size':1,'type':"
     "'application/pdf'}",
     "record.attach: 'name' must be a file name"},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':'a\\u007f.pdf','size':1,'type':"
     "'application/pdf'}",
     "record.attach: 'name' must be a file name"},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':'','size':1,'type':"
     "'application/pdf'}",
     "record.attach: 'name' must be a file name"},
    {"record.attach",
     "{'hash':'" HEX64 "','id':'ID','name':1,'size':1,'type':"
     "'application/pdf'}",
     "record.attach: 'name' must be a file name"},
    {"record.attach",
     "{'caption':1,'hash':'" HEX64 "','id':'ID','name':'a.pdf','size':1,"
     "'type':'application/pdf'}",
     "record.attach: 'caption' must be"},
    /* an op this version does not know */
    {"record.merge", "{'id':'ID'}", "unknown operation 'record.merge'"},
    {"device.reset", "{}", "unknown operation 'device.reset'"},
};

static void
test_bodies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
        const struct body_case *c = &body_cases[i];
        struct Ntm_entry e;
        char msg[512] = "";
        const char *b = entry_bytes(c->op, c->body);
        if (Ntm_entry_parse(&e, b, strlen(b), msg, sizeof(msg)) != NTM_OK)
            fail_msg("case %zu: not parsed: %s (%s)", i, msg, b);
        enum ntm_err rc = Ntm_rules_body(&e, msg, sizeof(msg));
        Ntm_entry_release(&e);
        if (!c->why && rc != NTM_OK)
            fail_msg("case %zu (%s %s): refused: %s", i, c->op, c->body, msg);
        if (c->why && (rc != NTM_EBADBODY || !strstr(msg, c->why)))
            fail_msg("case %zu (%s %s): rc %d '%s', want '%s'", i, c->op,
                     c->body, rc, msg, c->why);
    }
}

/* A caption of 1000 bytes is taken, 1001 refused; a name of 255 bytes is
 * taken, 256 refused. */
static void
test_attach_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *member;
        size_t len;
        int ok;
    } cases[] = {{"caption", 1000, 1},
                 {"caption", 1001, 0},
                 {"name", 255, 1},
                 {"name", 256, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1100], body[2048], msg[512];
        struct Ntm_entry e;
        memset(text, 'a', cases[i].len);
        text[cases[i].len] = '\0';
        int caption = strcmp(cases[i].member, "caption") == 0;
        snprintf(body, sizeof(body),
                 "{'caption':'%s','hash':'" HEX64 "','id':'ID','name':'%s',"
                 "'size':1,'type':'image/png'}",
                 caption ? text : "c", caption ? "a.png" : text);
        const char *b = entry_bytes("record.attach", body);
        assert_int_equal(Ntm_entry_parse(&e, b, strlen(b), msg, sizeof(msg)),
                         NTM_OK);
        assert_int_equal(Ntm_rules_body(&e, msg, sizeof(msg)),
                         cases[i].ok ? NTM_OK : NTM_EBADBODY);
        Ntm_entry_release(&e);
    }
}

/* ------------------------------------------------------------------ */
/* Step 5: authorization, given the governing enrollment */

static struct ntm_enrollment
enr(const char *role, const char *scope, const char *org)
{
    struct ntm_enrollment x;
    memset(&x, 0, sizeof(x));
    x.enrolled = 1;
    x.revoked_after = -1;
    snprintf(x.role, sizeof(x.role), "%s", role);
    snprintf(x.scope, sizeof(x.scope), "%s", scope);
    snprintf(x.org, sizeof(x.org), "%s", org);
    return x;
}

/* The verdict on (op, body) by an author with enrollment x; unit and org
 * as the record's create gives them (NULL when it is not known). */
static enum ntm_err
check(const char *op, const char *body, const struct ntm_enrollment *x,
      const char *unit, const char *org, char *msg, size_t n)
{
    struct Ntm_entry e;
    struct ntm_error err;
    const char *b = entry_bytes(op, body);
    assert_int_equal(Ntm_entry_parse(&e, b, strlen(b), msg, n), NTM_OK);
    enum ntm_err rc = Ntm_rules_check(NULL, &e, x, unit, org, msg, n, &err);
    Ntm_entry_release(&e);
    return rc;
}

#define CREATE_IN(unit, org)                                                   \
    "{'fields':{'date':'2019-05-17','task':'t'},'id':'ID','kind':'activity',"  \
    "'org':'" org "','unit':'" unit "'}"
#define UPDATE "{'base':['" HEX64 "'],'id':'ID','set':{'title':'x'}}"

static void
test_authorization(void **state)
{
    (void)state;
    char msg[512];
    struct ntm_enrollment rec = enr("recorder", COMMUNE, "doan");
    struct ntm_enrollment coord = enr("coordinator", "72.710", "");
    struct ntm_enrollment front = enr("coordinator", COMMUNE, "mttq");
    struct ntm_enrollment admin = enr("admin", "", "");

    /* a recorder writes in its commune and its organization */
    assert_int_equal(check("record.create", CREATE_IN(HAMLET, "doan"), &rec,
                           NULL, NULL, msg, sizeof(msg)),
                     NTM_OK);
    assert_int_equal(
        check("record.update", UPDATE, &rec, HAMLET, "doan", msg, sizeof(msg)),
        NTM_OK);
    /* ...not in the next commune, whatever it claims */
    assert_int_equal(check("record.create", CREATE_IN("72.710.25658", "doan"),
                           &rec, NULL, NULL, msg, sizeof(msg)),
                     NTM_EFORBIDDEN);
    assert_non_null(strstr(msg, "outside the author's scope " COMMUNE));
    assert_int_equal(check("record.update", UPDATE, &rec, "72.710.25658",
                           "doan", msg, sizeof(msg)),
                     NTM_EFORBIDDEN);
    /* ...not for another organization */
    assert_int_equal(check("record.create", CREATE_IN(HAMLET, "phunu"), &rec,
                           NULL, NULL, msg, sizeof(msg)),
                     NTM_EFORBIDDEN);
    assert_non_null(strstr(msg, "organization phunu is outside"));
    /* an update whose record's org is not known is not the author's */
    assert_int_equal(
        check("record.update", UPDATE, &rec, HAMLET, NULL, msg, sizeof(msg)),
        NTM_EFORBIDDEN);
    assert_non_null(strstr(msg, "organization ? is outside"));
    /* an entry on a record not held waits for it */
    assert_int_equal(
        check("record.update", UPDATE, &rec, NULL, NULL, msg, sizeof(msg)),
        NTM_ENOENT);
    assert_non_null(strstr(msg, "not known"));
    /* a recorder may not review, create units or enroll */
    assert_int_equal(check("review",
                           "{'id':'ID','rev':'" HEX64 "','state':'approved'}",
                           &rec, HAMLET, "doan", msg, sizeof(msg)),
                     NTM_EFORBIDDEN);
    assert_non_null(strstr(msg, "a recorder may not perform review"));
    assert_int_equal(check("unit.create",
                           "{'code':'" HAMLET "','level':'hamlet','name':'x'}",
                           &rec, NULL, NULL, msg, sizeof(msg)),
                     NTM_EFORBIDDEN);
    /* the Front reviews across organizations; a coordinator without an
     * organization too */
    assert_int_equal(check("review",
                           "{'id':'ID','rev':'" HEX64 "','state':'approved'}",
                           &front, HAMLET, "phunu", msg, sizeof(msg)),
                     NTM_OK);
    assert_int_equal(check("review",
                           "{'id':'ID','rev':'" HEX64 "','state':'approved'}",
                           &coord, HAMLET, "phunu", msg, sizeof(msg)),
                     NTM_OK);
    /* a coordinator creates units inside its district only */
    assert_int_equal(check("unit.create",
                           "{'code':'" HAMLET "','level':'hamlet','name':'x'}",
                           &coord, NULL, NULL, msg, sizeof(msg)),
                     NTM_OK);
    assert_int_equal(check("unit.create",
                           "{'code':'72.711','level':'district','name':'x'}",
                           &coord, NULL, NULL, msg, sizeof(msg)),
                     NTM_EFORBIDDEN);
    /* an admin enrolls inside its scope; the root's empty scope is all */
    assert_int_equal(check("device.enroll",
                           "{'key':'" HEX64 "','role':'admin','scope':'72'}",
                           &admin, NULL, NULL, msg, sizeof(msg)),
                     NTM_OK);
    struct ntm_enrollment dadmin = enr("admin", "72.710", "");
    assert_int_equal(check("device.enroll",
                           "{'key':'" HEX64 "','role':'admin','scope':'72'}",
                           &dadmin, NULL, NULL, msg, sizeof(msg)),
                     NTM_EFORBIDDEN);
    /* device.revoke: the scope over the device is auth.c's, not here */
    assert_int_equal(check("device.revoke",
                           "{'after_seq':0,'key':'" HEX64 "','reason':'lost'}",
                           &dadmin, NULL, NULL, msg, sizeof(msg)),
                     NTM_OK);
    assert_int_equal(check("device.revoke",
                           "{'after_seq':0,'key':'" HEX64 "','reason':'lost'}",
                           &coord, NULL, NULL, msg, sizeof(msg)),
                     NTM_EFORBIDDEN);

    /* not enrolled, revoked: refused before any scope */
    struct ntm_enrollment none = enr("", "", "");
    none.enrolled = 0;
    assert_int_equal(check("record.create", CREATE_IN(HAMLET, "doan"), &none,
                           NULL, NULL, msg, sizeof(msg)),
                     NTM_EUNKNOWNAUTHOR);
    assert_non_null(strstr(msg, "is not enrolled"));
    struct ntm_enrollment gone = rec;
    gone.revoked = 1;
    gone.revoked_after = 4;
    assert_int_equal(check("record.create", CREATE_IN(HAMLET, "doan"), &gone,
                           NULL, NULL, msg, sizeof(msg)),
                     NTM_EREVOKED);
    assert_non_null(strstr(msg, "revoked after seq 4"));
    /* a bad body is refused as such whoever writes it */
    assert_int_equal(check("record.create", CREATE_IN("72.", "doan"), &admin,
                           NULL, NULL, msg, sizeof(msg)),
                     NTM_EBADBODY);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts_the_baseline),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_parse_error_message_is_ascii),
        cmocka_unit_test(test_parse_record_binding),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_unit_codes),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_attach_bounds),
        cmocka_unit_test(test_authorization),
    };
    if (ntm_global_init() != NTM_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
