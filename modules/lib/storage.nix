# hearth's storage renderers, from `hearth.storage` (builtins only).
#
#   sanoidSettings cfg -> attrs for services.sanoid.settings: `template_<tier>`
#       per tier (retention, autosnap, autoprune) and one section per dataset
#       (`use_template`); received replicas are pruned by their tier, never
#       snapshotted (autosnap = false)
#   sanoidConf cfg     -> sanoid.conf exactly as nixpkgs' sanoid module writes
#       it from those settings (lib.generators.toINI with its mkKeyValue)
#   sanoidInterval cfg -> "*:0/15" when a tier keeps frequent snapshots, else "hourly"
#   createScript cfg   -> bash: creates missing datasets (and replica parents)
#       with their properties; reports, never changes, a property that differs;
#       never destroys or renames. `zfs` from PATH; HEARTH_ZFS_ALTROOT (lab:
#       the pool's altroot) prefixes mountpoints when comparing.
#   syncoidCommands cfg -> attrs for services.syncoid.commands (push over SSH,
#       `--no-sync-snap`: sanoid's snapshots are replicated, syncoid makes none
#       of its own, so none pile up; the target prunes by the tier's policy)
#   datasetNames cfg   -> names sanoid needs `zfs allow` on
let
  inherit (builtins)
    attrNames
    concatStringsSep
    concatMap
    filter
    map
    replaceStrings
    throw
    toString
    any
    elem
    length
    head
    isList
    isBool
    isInt
    match
    ;
  q = s: "'" + replaceStrings [ "'" ] [ "'\\''" ] s + "'";
  periods = [
    [
      "frequent"
      "frequently"
    ]
    [
      "hourly"
      "hourly"
    ]
    [
      "daily"
      "daily"
    ]
    [
      "weekly"
      "weekly"
    ]
    [
      "monthly"
      "monthly"
    ]
    [
      "yearly"
      "yearly"
    ]
  ];
  tierOf =
    cfg: name:
    if cfg.tiers ? ${name} then cfg.tiers.${name} else throw "hearth.storage: tier `${name}` is used but not in hearth.storage.tiers";
  count =
    t: k:
    let
      v = t.${k};
    in
    if isInt v && v >= 0 then v else throw "hearth.storage: snapshot count ${k} must be an integer >= 0";
  template =
    t:
    builtins.listToAttrs (
      map (p: {
        name = builtins.elemAt p 1;
        value = count t (head p);
      }) periods
    )
    // {
      autosnap = true;
      autoprune = true;
    };
  received = cfg: concatMap (r: r.datasets) cfg.receive;
  sanoidSettings =
    cfg:
    let
      used = map (d: d.tier) (cfg.datasets ++ received cfg);
      tierNames = filter (n: elem n used) (attrNames cfg.tiers);
    in
    builtins.listToAttrs (
      map (n: {
        name = "template_${n}";
        value = template (tierOf cfg n);
      }) tierNames
      ++ map (d: {
        name = d.name;
        value = {
          use_template = [ (builtins.seq (tierOf cfg d.tier) d.tier) ];
        };
      }) cfg.datasets
      ++ map (d: {
        name = d.name;
        value = {
          use_template = [ (builtins.seq (tierOf cfg d.tier) d.tier) ];
          autosnap = false;
        };
      }) (received cfg)
    );
  # nixpkgs lib.generators: mkValueStringDefault for bool/int/string, and
  # sanoid.nix's mkValueString (lists joined with ",").
  valueString =
    v:
    if isList v then
      concatStringsSep "," v
    else if isBool v then
      (if v then "true" else "false")
    else if isInt v then
      toString v
    else
      v;
  # lib.generators.toINI: sections sorted by name, "[name]" (with [ and ]
  # escaped), then "key=value" lines sorted by key; sections joined by "\n".
  toINI =
    attrs:
    concatStringsSep "\n" (
      map (
        s:
        "[${replaceStrings [ "[" "]" ] [ "\\[" "\\]" ] s}]\n"
        + concatStringsSep "" (map (k: "${k}=${valueString attrs.${s}.${k}}\n") (attrNames attrs.${s}))
      ) (attrNames attrs)
    );
  checkName =
    n:
    if match "[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)+" n == null then
      throw "hearth.storage: `${n}` is not a ZFS dataset name"
    else
      n;
  createOne =
    d:
    let
      props = d.properties;
      opts = concatStringsSep " " (
        [ "-o mountpoint=${q d.mountpoint}" ] ++ map (k: "-o ${k}=${q props.${k}}") (attrNames props)
      );
      checks = concatStringsSep "" (
        [ "  check ${q d.name} mountpoint \"$altroot\"${q d.mountpoint}\n" ]
        ++ map (k: "  check ${q d.name} ${k} ${q props.${k}}\n") (attrNames props)
      );
    in
    ''
      if zfs list -H -o name ${q (checkName d.name)} >/dev/null 2>&1; then
      ${checks}else
        zfs create -p ${opts} ${q d.name} && echo "hearth-storage: created ${d.name}" || status=1
      fi
    '';
  createParent = p: ''
    if ! zfs list -H -o name ${q (checkName p)} >/dev/null 2>&1; then
      zfs create -p -o canmount=off ${q p} && echo "hearth-storage: created ${p} (replicas)" || status=1
    fi
  '';
in
{
  inherit sanoidSettings;

  sanoidConf = cfg: toINI (sanoidSettings cfg);

  sanoidInterval =
    cfg:
    if any (d: count (tierOf cfg d.tier) "frequent" > 0) cfg.datasets then "*:0/15" else "hourly";

  datasetNames = cfg: map (d: d.name) (cfg.datasets ++ received cfg);

  createScript =
    cfg:
    if cfg.pools == [ ] && cfg.datasets != [ ] then
      throw "hearth.storage: datasets but no pools"
    else
      ''
        #!/usr/bin/env bash
        # Creates missing datasets; never destroys, renames or changes one.
        set -uo pipefail
        status=0
        drift=0
        altroot=''${HEARTH_ZFS_ALTROOT:-}
        check() {
          local have
          have=$(zfs get -H -o value "$2" "$1") || { status=1; return; }
          if [ "$have" != "$3" ]; then
            echo "hearth-storage: $1: $2 is $have, the inventory says $3 (not changed)" >&2
            drift=1
          fi
        }
      ''
      + concatStringsSep "" (map createOne cfg.datasets)
      + concatStringsSep "" (map (r: createParent r.parent) cfg.receive)
      + ''
        if [ "$drift" = 1 ]; then status=1; fi
        exit $status
      '';

  syncoidCommands =
    cfg:
    builtins.listToAttrs (
      map (r: {
        name = r.name;
        value = {
          source = r.source;
          target = "hearth-replica@${r.address}:${r.targetDataset}";
          recursive = false;
          extraArgs = [ "--no-sync-snap" ];
        };
      }) cfg.replication
    );
}
