# Renders a host's `hearth.logs` (see docs/design.md) into what its programs
# read. builtins only: the NixOS module (modules/logs.nix), `hearth preview`
# and the lab all call these same functions.
#
#   alloyConfig cfg     -> /etc/alloy/config.alloy (text, Alloy syntax)
#   promtailConfig cfg  -> services.promtail.configuration (attrs)
#   lokiConfig cfg      -> services.loki.configuration (attrs; cfg.loki != null)
#   lokiFirewall cfg    -> { nftables; iptables; }: Loki's port from the shippers
#
# The pipeline, the same for both agents:
#
#   journal --relabel--> host (from the inventory), unit (_SYSTEMD_UNIT),
#                        priority (PRIORITY as a keyword), transport (temporary)
#           --process--> kernel lines starting with the allowlist's log prefix
#                        ("hearth-drop ", modules/lib/allowlist.nix) get
#                        hearth_drop="1", and src/dst from SRC=/DST= when
#                        present; then `transport` is dropped
#           --write----> the push URL (+ basic auth, tenant), extra labels
#
# Only kernel lines (transport "kernel") can be labelled as drops: a user
# process that logs "hearth-drop ..." does not forge one.
#
# Escaping: every string from the inventory reaches the Alloy text through
# `alloy.str` (a double-quoted literal: `\`, `"` and every control character
# escaped) or `alloy.key` (a bare identifier when it is one, else a string);
# `alloy.ident` throws on anything that is not an identifier. The promtail and
# Loki configurations are attrsets, written as JSON by their modules.
let
  h = import ./util/ipv4.nix;
  inherit (builtins)
    attrNames
    concatLists
    concatStringsSep
    elem
    elemAt
    fromJSON
    genList
    isString
    map
    match
    replaceStrings
    ;

  # The allowlist's `log prefix` (modules/lib/allowlist.nix renders the same
  # string; checks/nix-unit/logs.nix proves the two agree).
  dropPrefix = "hearth-drop ";

  # -- Alloy syntax ---------------------------------------------------------

  hexDigits = [ "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "a" "b" "c" "d" "e" "f" ];
  hex2 = n: elemAt hexDigits (n / 16) + elemAt hexDigits (n - (n / 16) * 16);
  # Control characters 0x01-0x1f and 0x7f (Nix strings cannot hold NUL).
  controlCodes = genList (i: i + 1) 31 ++ [ 127 ];
  charOf = n: fromJSON "\"\\u00${hex2 n}\"";
  named = {
    "9" = "\\t";
    "10" = "\\n";
    "13" = "\\r";
  };
  escapeOf = n: named.${toString n} or "\\u00${hex2 n}";
  escFrom = [ "\\" "\"" ] ++ map charOf controlCodes;
  escTo = [ "\\\\" "\\\"" ] ++ map escapeOf controlCodes;

  # Alloy's literals: `true`, `false` and `null` are not names.
  keywords = [ "true" "false" "null" ];
  isIdent = s: isString s && match "[A-Za-z_][A-Za-z0-9_]*" s != null && !(elem s keywords);

  alloy = rec {
    # A double-quoted Alloy string literal that evaluates to exactly `s`.
    str = s: "\"" + replaceStrings escFrom escTo s + "\"";
    # An identifier, or a throw.
    ident = s: if isIdent s then s else throw "hearth logs: `${toString s}` is not an Alloy identifier (letters, digits and _, not starting with a digit)";
    # An object key: bare when it is an identifier, quoted otherwise.
    key = s: if isIdent s then s else str s;
    # An object literal of strings, one key per line, at indentation `ind`.
    object =
      ind: attrs:
      if attrs == { } then
        "{}"
      else
        "{\n"
        + concatStringsSep "" (map (k: "${ind}\t${key k} = ${str attrs.${k}},\n") (attrNames attrs))
        + "${ind}}";
    list = items: "[" + concatStringsSep ", " (map str items) + "]";
  };

  # -- Checks (the generator rejects all of these first) ---------------------

  durationRe = "([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?";
  checkDuration =
    what: d:
    if isString d && d != "" && match durationRe d != null then d else throw "hearth logs: ${what} `${toString d}` is not a duration (e.g. 31d, 744h)";
  labelRe = "[a-zA-Z_][a-zA-Z0-9_]*";
  reserved = [ "host" "unit" "priority" "job" "transport" "hearth_drop" "src" "dst" ];
  checkLabels =
    labels:
    let
      bad = builtins.filter (k: match labelRe k == null || match "__.*" k != null || elem k reserved) (attrNames labels);
    in
    if bad == [ ] then labels else throw "hearth logs: labels: `${elemAt bad 0}` is not a label name hearth may set (Prometheus names; not ${concatStringsSep ", " reserved})";
  checkAgent =
    a: if elem a [ "alloy" "promtail" ] then a else throw "hearth logs: agent `${toString a}` is neither \"alloy\" nor \"promtail\"";
  checkUrl =
    u: if isString u && match "https?://[^/[:space:]][^[:space:]]*" u != null then u else throw "hearth logs: push.url `${toString u}` is not an http(s) URL";

  # -- The pipeline, shared by both agents -----------------------------------

  # (journal field, label) pairs, in this order.
  relabels = [
    { from = "__journal__systemd_unit"; to = "unit"; }
    { from = "__journal_priority_keyword"; to = "priority"; }
    { from = "__journal__transport"; to = "transport"; }
  ];
  # LogQL: kernel lines that start with the drop prefix.
  dropSelector = "{transport=\"kernel\"} |~ \"^${dropPrefix}\"";
  # RE2 (Alloy and promtail are Go): the addresses of the dropped packet.
  dropRegex = "SRC=(?P<src>[0-9A-Fa-f.:]+) DST=(?P<dst>[0-9A-Fa-f.:]+)";
  # Alloy adds job="loki.source.journal.hearth" itself (its docs); hearth
  # sets no job label of its own, so both agents agree on the rest.
  staticLabels = cfg: { host = cfg.host; };

  # The file a basic-auth password is read from: the agenix secret, handed to
  # the service by systemd's LoadCredential (both agents run as users that
  # cannot read /run/agenix).
  credentialPath = unit: secret: "/run/credentials/${unit}.service/${secret}";
  passwordFile = unit: cfg: if cfg.push.passwordSecret == null then null else credentialPath unit cfg.push.passwordSecret;

  alloyConfig =
    cfg:
    let
      p = cfg.push;
      url = checkUrl p.url;
      labels = checkLabels cfg.labels;
      maxAge = checkDuration "journalMaxAge" cfg.journalMaxAge;
      rule = r: [
        ""
        "\trule {"
        "\t\tsource_labels = ${alloy.list [ r.from ]}"
        "\t\ttarget_label  = ${alloy.str r.to}"
        "\t}"
      ];
      endpoint =
        [ "\tendpoint {" "\t\turl = ${alloy.str url}" ]
        ++ (if p.tenant == null then [ ] else [ "\t\ttenant_id = ${alloy.str p.tenant}" ])
        ++ (
          if p.username == null then
            [ ]
          else
            [
              ""
              "\t\tbasic_auth {"
              "\t\t\tusername      = ${alloy.str p.username}"
              "\t\t\tpassword_file = ${alloy.str (passwordFile "alloy" cfg)}"
              "\t\t}"
            ]
        )
        ++ [ "\t}" ];
    in
    concatStringsSep "\n" (
      [
        "// Generated by hearth (modules/lib/logs.nix) for host ${alloy.str cfg.host}. Do not edit."
        "// The journal, relabelled to host, unit and priority; dropped firewall"
        "// packets labelled hearth_drop=\"1\" with src and dst; pushed to Loki."
        ""
        "loki.relabel \"hearth_journal\" {"
        "\tforward_to = []"
      ]
      ++ concatLists (map rule relabels)
      ++ [
        "}"
        ""
        "loki.source.journal \"hearth\" {"
        "\tmax_age       = ${alloy.str maxAge}"
        "\trelabel_rules = loki.relabel.hearth_journal.rules"
        "\tlabels        = ${alloy.object "\t" (staticLabels cfg)}"
        "\tforward_to    = [loki.process.hearth.receiver]"
        "}"
        ""
        "loki.process \"hearth\" {"
        "\tforward_to = [loki.write.hearth.receiver]"
        ""
        "\tstage.match {"
        "\t\tselector = ${alloy.str dropSelector}"
        ""
        "\t\tstage.static_labels {"
        "\t\t\tvalues = ${alloy.object "\t\t\t" { hearth_drop = "1"; }}"
        "\t\t}"
        ""
        "\t\tstage.regex {"
        "\t\t\texpression = ${alloy.str dropRegex}"
        "\t\t}"
        ""
        "\t\tstage.labels {"
        "\t\t\tvalues = ${alloy.object "\t\t\t" { src = ""; dst = ""; }}"
        "\t\t}"
        "\t}"
        ""
        "\tstage.label_drop {"
        "\t\tvalues = ${alloy.list [ "transport" ]}"
        "\t}"
        "}"
        ""
        "loki.write \"hearth\" {"
      ]
      ++ endpoint
      ++ [
        "\texternal_labels = ${alloy.object "\t" labels}"
        "}"
        ""
      ]
    );

  promtailConfig =
    cfg:
    let
      p = cfg.push;
      client =
        {
          url = checkUrl p.url;
          external_labels = checkLabels cfg.labels;
        }
        // (if p.tenant == null then { } else { tenant_id = p.tenant; })
        // (
          if p.username == null then
            { }
          else
            {
              basic_auth = {
                username = p.username;
                password_file = passwordFile "promtail" cfg;
              };
            }
        );
    in
    {
      server = {
        http_listen_port = 9080;
        grpc_listen_port = 0;
      };
      positions.filename = "/var/cache/promtail/positions.yaml";
      clients = [ client ];
      scrape_configs = [
        {
          job_name = "journal";
          journal = {
            max_age = checkDuration "journalMaxAge" cfg.journalMaxAge;
            labels = staticLabels cfg;
          };
          relabel_configs = map (r: {
            source_labels = [ r.from ];
            target_label = r.to;
          }) relabels;
          pipeline_stages = [
            {
              match = {
                selector = dropSelector;
                stages = [
                  { static_labels.hearth_drop = "1"; }
                  { regex.expression = dropRegex; }
                  {
                    labels = {
                      src = null;
                      dst = null;
                    };
                  }
                ];
              };
            }
            { labeldrop = [ "transport" ]; }
          ];
        }
      ];
    };

  lokiConfig =
    cfg:
    let
      l = if cfg.loki or null == null then throw "hearth logs: this host is not the Loki host (hearth.logs.loki is null)" else cfg.loki;
      dir = l.dataDir;
    in
    {
      auth_enabled = false;
      server = {
        http_listen_port = l.port;
        grpc_listen_port = l.grpcPort;
        log_level = "warn";
      };
      common = {
        instance_addr = "127.0.0.1";
        path_prefix = dir;
        replication_factor = 1;
        ring.kvstore.store = "inmemory";
        storage.filesystem = {
          chunks_directory = "${dir}/chunks";
          rules_directory = "${dir}/rules";
        };
      };
      schema_config.configs = [
        {
          from = "2024-01-01";
          store = "tsdb";
          object_store = "filesystem";
          schema = "v13";
          index = {
            prefix = "index_";
            period = "24h";
          };
        }
      ];
      limits_config.retention_period = checkDuration "loki.retention" l.retention;
      compactor = {
        working_directory = "${dir}/compactor";
        compaction_interval = "10m";
        retention_enabled = true;
        retention_delete_delay = "2h";
        delete_request_store = "filesystem";
      };
      analytics.reporting_enabled = false;
    };
  # The Loki host's firewall: its HTTP port from the shipping hosts only, as
  # an nftables input rule (NixOS's nftables firewall) and as iptables
  # commands (its iptables firewall). Addresses are parsed (throw on anything
  # else); no address, no rule.
  lokiFirewall =
    cfg:
    let
      l = cfg.loki;
      port = toString (h.checkInt "loki.port" 1 65535 l.port);
      addrs = map (a: (h.parseCidr "loki.allowFrom" a).s) (h.checkList "loki.allowFrom" l.allowFrom);
      shown = map h.fmtAddr addrs;
    in
    {
      nftables = if shown == [ ] then "" else "ip saddr { ${concatStringsSep ", " shown} } tcp dport ${port} accept comment \"hearth logs: Loki push\"";
      iptables = concatStringsSep "\n" (map (a: "iptables -A nixos-fw -p tcp -s ${a} --dport ${port} -j nixos-fw-accept") shown);
    };
in
{
  inherit
    alloy
    alloyConfig
    credentialPath
    dropPrefix
    dropRegex
    dropSelector
    lokiConfig
    lokiFirewall
    promtailConfig
    ;
  # The checks, exported so that a test can prove the generator agrees
  # (generator/tests/nix_roundtrip.rs).
  inherit checkAgent checkDuration checkLabels;
  # The promtail configuration as the text of its file (JSON is YAML).
  promtailText = cfg: builtins.toJSON (promtailConfig cfg);
}
