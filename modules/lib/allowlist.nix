# Renders the gateway's allowlist (`hearth.allowlist`, addresses already
# resolved by the generator) as the body of nftables table `inet hearth`.
# builtins only: the NixOS module (modules/allowlist.nix), `hearth preview`
# and the lab all load this same text.
#
# Forward path, for packets entering from `cfg.interface` only:
#
#   chain forward (hook forward, policy drop)
#     iifname != "<if>" accept          other traffic: not ours to judge
#     ct state established,related accept
#     ct state invalid drop
#     ip saddr vmap @src_class          ONE lookup: source -> its class chain
#     [limit ... log prefix "hearth-drop "]
#     counter name "forward_drop" drop
#   chain class_N
#     ip daddr . meta l4proto . th dport @allow_N accept   ONE lookup
#
# Source addresses are cut into disjoint intervals; addresses that belong to
# the same referenced source sets form one class, and each class gets one set
# (`ipv4_addr . inet_proto . inet_service`, flags interval) holding every
# destination/protocol/port its rules allow, cut into disjoint elements (the
# kernel rejects overlapping elements). So a new flow costs two set lookups
# however many services and peers the inventory has.
#
# `iifname != "<if>" accept` (rather than a policy-accept chain that jumps)
# keeps the base chain's policy literally `drop`, as issue 5 asks; an accept
# in this table does not override drops in other tables (NixOS's own
# firewall still sees every packet).
#
# Input path (cfg.ssh.enable): SSH only from cfg.ssh.sources, new connections
# rate-limited per source address; every other input packet is left to
# NixOS's firewall (policy accept here).
#
# Input rules (cfg.input, what other areas open on this host, e.g. the
# ingress's resolver on 53): `inputRules cfg` -> lines for NixOS's
# `networking.firewall.extraInputRules` (the nftables firewall's input chain,
# where an accept lets the packet in), one rule each:
#   iifname "<if>" ip saddr { ... } ip daddr { ... } meta l4proto { tcp, udp } th dport { 53 } accept comment "<name>"
#
# Nothing from the inventory reaches the text unchecked: addresses and ports
# are parsed (throw on anything else), set and chain names are generated
# indices, and names only appear inside `comment "..."` after everything but
# [A-Za-z0-9 ._:-] has been removed.
let
  h = import ./util/ipv4.nix;
  inherit (builtins)
    any
    attrNames
    concatMap
    concatStringsSep
    deepSeq
    elem
    elemAt
    filter
    genList
    isAttrs
    isString
    length
    listToAttrs
    sort
    ;

  indent = prefix: lines: map (l: prefix + l) lines;

  comment = str: if h.sanitize str == "" then "" else " comment \"${h.sanitize str}\"";

  # elements = { a,\n b } or nothing for an empty set.
  elementsBlock =
    elems:
    if elems == [ ] then
      [ ]
    else
      [ "elements = {" ]
      ++ genList (
        i: "  " + elemAt elems i + (if i + 1 < length elems then "," else "")
      ) (length elems)
      ++ [ "}" ];


  checkProto =
    what: p:
    if elem p [
      "tcp"
      "udp"
    ] then
      p
    else
      throw "hearth: ${what}: ${h.show p} is not a protocol (tcp or udp)";

  forwardPart =
    cfg:
    let
      iface = h.checkIfName "hearth.allowlist.interface" cfg.interface;
      sources =
        if isAttrs cfg.sources then
          cfg.sources
        else
          throw "hearth: hearth.allowlist.sources: expected an attribute set of lists";
      setNames = attrNames sources;

      # Every address in every source set, parsed (unreferenced sets too).
      parsedSources = listToAttrs (
        map (name: {
          inherit name;
          value = map (h.parseCidr "hearth.allowlist.sources.${h.show name}") (
            h.checkList "hearth.allowlist.sources.${h.show name}" sources.${name}
          );
        }) setNames
      );

      rules = genList (
        i:
        let
          r = elemAt (h.checkList "hearth.allowlist.rules" cfg.rules) i;
          what = "hearth.allowlist.rules.${toString i} (${h.show (r.name or "")})";
          name = if isString (r.name or null) then r.name else throw "hearth: ${what}: name must be a string";
          from = map (
            f:
            if sources ? ${f} then
              f
            else
              throw "hearth: ${what}.from: ${h.show f} is not a source set in hearth.allowlist.sources"
          ) (h.checkList "${what}.from" r.from);
          to = map (h.parseCidr "${what}.to") (h.checkList "${what}.to" r.to);
          protos = map (checkProto "${what}.proto") (h.checkList "${what}.proto" r.proto);
          ports = map (h.parsePort "${what}.ports") (h.checkList "${what}.ports" r.ports);
        in
        {
          inherit name from;
          # One entry per destination x protocol x port range.
          dests = concatMap (
            proto:
            concatMap (
              a:
              map (p: {
                inherit proto name;
                addr = a;
                port = p;
              }) ports
            ) to
          ) protos;
        }
      ) (length cfg.rules);

      referenced = filter (n: any (r: elem n r.from) rules) setNames;

      # Disjoint source pieces, each with the referenced sets containing it.
      srcPieces = h.splitIntervals (
        concatMap (
          name:
          map (
            iv:
            iv
            // {
              key = name;
              value = name;
            }
          ) parsedSources.${name}
        ) referenced
      );

      # Class ids in order of first appearance by address.
      firstSeen = listToAttrs (
        genList (i: {
          name = (elemAt srcPieces i).id;
          value = i;
        }) (length srcPieces)
      );
      classIds = sort (a: b: firstSeen.${a} < firstSeen.${b}) (attrNames firstSeen);
      setsOf = listToAttrs (
        map (p: {
          name = p.id;
          value = p.items;
        }) srcPieces
      );

      # The disjoint allow-set elements for one class.
      classElements =
        sets:
        let
          dests = concatMap (r: if any (f: elem f sets) r.from then r.dests else [ ]) rules;
          forProto =
            proto:
            concatMap
              (
                a:
                map (
                  p:
                  "${h.fmtInterval a} . ${proto} . ${h.fmtPort p}${comment (concatStringsSep " " p.items)}"
                ) (h.splitIntervals a.items)
              )
              (
                h.splitIntervals (
                  map (d: {
                    inherit (d.addr) s e;
                    key = "${toString d.port.s}-${toString d.port.e} ${d.name}";
                    value = {
                      inherit (d.port) s e;
                      key = d.name;
                      value = d.name;
                    };
                  }) (filter (d: d.proto == proto) dests)
                )
              );
        in
        forProto "tcp" ++ forProto "udp";

      # Classes that allow something, numbered 0..n-1.
      classes =
        let
          withElems = filter (c: c.elements != [ ]) (
            map (id: {
              inherit id;
              sets = setsOf.${id};
              elements = classElements setsOf.${id};
            }) classIds
          );
        in
        genList (i: elemAt withElems i // { index = toString i; }) (length withElems);
      classIndex = listToAttrs (
        map (c: {
          name = c.id;
          value = c.index;
        }) classes
      );

      vmapElements = concatMap (
        p: if classIndex ? ${p.id} then [ "${h.fmtInterval p} : jump class_${classIndex.${p.id}}" ] else [ ]
      ) srcPieces;

      log = cfg.log or { enable = false; };
    in
    deepSeq parsedSources (
      [ "counter forward_drop {" "}" "" "map src_class {" ]
      ++ indent "  " (
        [
          "type ipv4_addr : verdict"
          "flags interval"
        ]
        ++ elementsBlock vmapElements
      )
      ++ [ "}" ]
      ++ concatMap (
        c:
        [
          ""
          "set allow_${c.index} {"
        ]
        ++ indent "  " (
          [
            "type ipv4_addr . inet_proto . inet_service"
            "flags interval"
          ]
          ++ elementsBlock c.elements
        )
        ++ [
          "}"
          ""
          "chain class_${c.index} {"
        ]
        ++ indent "  " (
          (if h.sanitize (concatStringsSep " " c.sets) == "" then [ ] else [ "comment \"${h.sanitize ("sources: " + concatStringsSep " " c.sets)}\"" ])
          ++ [ "ip daddr . meta l4proto . th dport @allow_${c.index} accept" ]
        )
        ++ [ "}" ]
      ) classes
      ++ [
        ""
        "chain forward {"
      ]
      ++ indent "  " (
        [
          "type filter hook forward priority filter; policy drop;"
          "iifname != \"${iface}\" accept"
          "ct state established,related accept"
          "ct state invalid drop"
          "ip saddr vmap @src_class"
        ]
        ++ (
          if log.enable then
            [ "limit rate ${h.checkRate "hearth.allowlist.log.rate" log.rate} log prefix \"hearth-drop \"" ]
          else
            [ ]
        )
        ++ [ "counter name \"forward_drop\" drop" ]
      )
      ++ [ "}" ]
    );

  sshPart =
    cfg:
    let
      ssh = cfg.ssh;
      port = toString (h.checkInt "hearth.allowlist.ssh.port" 1 65535 ssh.port);
      rate = h.checkRate "hearth.allowlist.ssh.rate" ssh.rate;
      burst = toString (h.checkInt "hearth.allowlist.ssh.burst" 1 1000000 ssh.burst);
      log = cfg.log or { enable = false; };
    in
    [
      ""
      "set ssh_sources {"
    ]
    ++ indent "  " (
      [
        "type ipv4_addr"
        "flags interval"
      ]
      ++ elementsBlock (h.addressUnion "hearth.allowlist.ssh.sources" ssh.sources)
    )
    ++ [
      "}"
      ""
      "set ssh_meter {"
      "  type ipv4_addr"
      "  size 65535"
      "  flags dynamic,timeout"
      "  timeout 10m"
      "}"
      ""
      "counter ssh_drop {"
      "}"
      ""
      "chain ssh_drop {"
    ]
    ++ indent "  " (
      (
        if log.enable then
          [ "limit rate ${h.checkRate "hearth.allowlist.log.rate" log.rate} log prefix \"hearth-drop \"" ]
        else
          [ ]
      )
      ++ [ "counter name \"ssh_drop\" drop" ]
    )
    ++ [
      "}"
      ""
      "chain input {"
    ]
    ++ indent "  " [
      "type filter hook input priority filter; policy accept;"
      "tcp dport ${port} meta nfproto ipv6 goto ssh_drop"
      "tcp dport ${port} ip saddr != @ssh_sources goto ssh_drop"
      "tcp dport ${port} ct state new add @ssh_meter { ip saddr limit rate over ${rate} burst ${burst} packets } goto ssh_drop"
    ]
    ++ [ "}" ];

  allowlistContent =
    cfg:
    concatStringsSep "\n" (
      forwardPart cfg ++ (if (cfg.ssh or { enable = false; }).enable then sshPart cfg else [ ])
    )
    + "\n";

  allowlistRuleset =
    cfg:
    "table inet hearth {\n"
    + concatStringsSep "\n" (
      map (l: if l == "" then "" else "  " + l) (
        filter (x: isString x) (builtins.split "\n" (allowlistContent cfg))
      )
    )
    + "}\n";
  inputRules =
    cfg:
    let
      rules = h.checkList "hearth.allowlist.input" (cfg.input or [ ]);
      one =
        i: r:
        let
          what = "hearth.allowlist.input.${toString i}";
          set = l: "{ ${concatStringsSep ", " l} }";
          protos = map (checkProto "${what}.proto") (h.checkList "${what}.proto" r.proto);
          ports = map (p: h.fmtPort (h.parsePort "${what}.ports" p)) (h.checkList "${what}.ports" r.ports);
          nonEmpty = w: l: if l == [ ] then throw "hearth: ${what}.${w}: empty (the rule would match nothing)" else l;
        in
        "iifname \"${h.checkIfName "${what}.interface" r.interface}\""
        + " ip saddr ${set (nonEmpty "from" (h.addressUnion "${what}.from" r.from))}"
        + " ip daddr ${set (nonEmpty "to" (h.addressUnion "${what}.to" r.to))}"
        + " meta l4proto ${set (nonEmpty "proto" protos)}"
        + " th dport ${set (nonEmpty "ports" ports)} accept${comment r.name}";
    in
    concatStringsSep "" (genList (i: one i (elemAt rules i) + "\n") (length rules));
in
{
  inherit allowlistContent allowlistRuleset inputRules;
}
