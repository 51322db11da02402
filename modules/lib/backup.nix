# The backup renderer (builtins only): `hearth.backup` (see docs/design.md)
# -> `services.restic.backups` entries, the scripts that take and release
# the ZFS snapshot a backup reads, and the stale-backup check. The NixOS
# module (modules/backup.nix) and the lab (generator/src/area/backup/lab.rs)
# both call these functions.
#
# Layout of `services.restic.backups.<name>` as read in nixpkgs
# nixos/modules/services/backup/restic.nix (the copy with `command`,
# `runCheck`, `checkOpts`, `fileBackupContract`, `environmentFile`; the
# per-backup options are top level, not under a `settings` attrset):
# `paths = [ ]` makes a prune/check-only job; preStart runs
# backupPrepareCommand, then `restic cat config || restic init` when
# `initialize`; postStop runs backupCleanupCommand, also after a failure.
let
  inherit (builtins)
    concatMap
    concatStringsSep
    filter
    foldl'
    listToAttrs
    map
    replaceStrings
    split
    throw
    toString
    ;

  splitString = sep: s: filter builtins.isString (split sep s);

  shellArg = s: "'" + replaceStrings [ "'" ] [ "'\\''" ] s + "'";

  buckets = [
    "last"
    "hourly"
    "daily"
    "weekly"
    "monthly"
    "yearly"
  ];

  tierTag = job: "hearth-tier-${job.tier}";

  # `restic forget --prune` options of a job: only its tier's snapshots,
  # grouped by host and tags, each non-zero bucket, and
  # `--repack-cacheable-only`: data packs are deleted when unused but never
  # rewritten. restic 0.14's default prune rewrote the small nightly packs
  # into a few large mixed ones, after which restoring a 10 MB directory
  # downloaded 72 MB (docs/performance.md, "Backups").
  pruneOpts =
    job:
    let
      keeps = map (b: "--keep-${b} ${toString job.retention.${b}}") (filter (b: job.retention.${b} > 0) buckets);
    in
    if keeps == [ ] then
      throw "hearth.backup: job ${job.name}: the retention keeps nothing"
    else
      [
        "--tag ${tierTag job}"
        "--group-by host,tags"
      ]
      ++ keeps
      ++ [ "--repack-cacheable-only" ];

  # What restic reads for a dataset: a read-only clone of the run's
  # snapshot, mounted at the same path every run (so restic finds its parent
  # snapshot). A clone, not `<mountpoint>/.zfs/snapshot/<name>`: zfs-fuse,
  # on which the lab proves this, has no `.zfs` directory.
  cloneName = job: ds: "${builtins.head (splitString "/" ds.name)}/${job.snapshot}-${replaceStrings [ "/" ] [ "-" ] ds.name}";
  snapshotPath = cfg: job: ds: "${cfg.mountRoot}/${job.name}/${ds.name}";

  paths =
    cfg: job:
    if job.datasets == [ ] then
      throw "hearth.backup: job ${job.name} has no dataset"
    else
      map (snapshotPath cfg job) job.datasets;

  # Takes the snapshot the backup reads and mounts its clone. What a killed
  # run left (clone, snapshot) is replaced; a stale restic lock left by a
  # killed run is removed (`unlock` only removes locks whose process is
  # gone).
  prepare =
    {
      cfg,
      job,
      zfs,
      restic,
    }:
    concatStringsSep "\n" (
      [
        "set -eu"
        "if ${restic} cat config >/dev/null 2>&1; then ${restic} unlock; fi"
      ]
      ++ concatMap (
        ds:
        let
          snap = shellArg "${ds.name}@${job.snapshot}";
          clone = shellArg (cloneName job ds);
        in
        [
          "${zfs} destroy -f ${clone} 2>/dev/null || true"
          "${zfs} destroy ${snap} 2>/dev/null || true"
          "${zfs} snapshot ${snap}"
          "${zfs} clone -o readonly=on -o mountpoint=${shellArg (snapshotPath cfg job ds)} ${snap} ${clone}"
        ]
      ) job.datasets
    )
    + "\n";

  # Releases the clone (`-f`: unmounted even when something still holds it;
  # it exists for this run only) and the snapshot; runs after success and
  # failure. A mount just used can be busy for a moment: each destroy is
  # tried for up to 10 s.
  cleanup =
    { job, zfs }:
    concatStringsSep "\n" (
      [
        "rc=0"
        "release() { n=0; until ${zfs} destroy \"$@\"; do n=$((n + 1)); if [ $n -ge 10 ]; then return 1; fi; sleep 1; done; }"
      ]
      ++ concatMap (ds: [
        "release -f ${shellArg (cloneName job ds)} || rc=1"
        "release ${shellArg "${ds.name}@${job.snapshot}"} || rc=1"
      ]) job.datasets
      ++ [ "exit $rc" ]
    )
    + "\n";

  stampFile = cfg: job: "${cfg.stateDir}/${job.name}.ok";
  sinceFile = cfg: job: "${cfg.stateDir}/${job.name}.since";

  # Exits 1 when the job has not succeeded for `staleAfterHours`, counted
  # from its last success (the stamp its service writes) or, before the
  # first one, from when the job was installed (the `.since` file).
  staleCheck =
    {
      cfg,
      job,
      stat ? "stat",
      date ? "date",
    }:
    let
      limit = toString cfg.staleAfterHours;
    in
    if cfg.staleAfterHours < 1 then
      throw "hearth.backup.staleAfterHours must be at least 1"
    else
      ''
        set -u
        last=0
        for f in ${shellArg (stampFile cfg job)} ${shellArg (sinceFile cfg job)}; do
          if [ -e "$f" ]; then
            t=$(${stat} -c %Y "$f")
            if [ "$t" -gt "$last" ]; then last=$t; fi
          fi
        done
        now=$(${date} +%s)
        hours=$(( (now - last) / 3600 ))
        if [ "$hours" -ge ${limit} ]; then
          echo "backup ${job.name}: no successful run for $hours h (limit ${limit} h)" >&2
          exit 1
        fi
        echo "backup ${job.name}: last success $hours h ago"
      '';

  secretFile = secretPath: name: if name == null then null else secretPath name;

  repoOf = cfg: name: builtins.head (filter (r: r.name == name) cfg.repositories ++ [ (throw "hearth.backup: no repository ${name}") ]);

  common = secretPath: repo: {
    repository = repo.url;
    passwordFile = secretPath repo.passwordSecret;
    environmentFile = secretFile secretPath repo.environmentSecret;
  };

  backupJob =
    {
      cfg,
      secretPath,
      zfs,
      restic,
    }:
    job:
    {
      name = job.name;
      value = common secretPath (repoOf cfg job.repository) // {
        initialize = true;
        paths = paths cfg job;
        extraBackupArgs = [ "--tag ${tierTag job}" ];
        pruneOpts = [ ];
        timerConfig = {
          OnCalendar = cfg.schedule.backup;
          RandomizedDelaySec = cfg.schedule.randomizedDelay;
          Persistent = true;
        };
        backupPrepareCommand = prepare { inherit cfg job zfs restic; };
        backupCleanupCommand = cleanup { inherit job zfs; };
      };
    };

  pruneJob = cfg: secretPath: job: {
    name = "${job.name}-prune";
    value = common secretPath (repoOf cfg job.repository) // {
      paths = [ ];
      pruneOpts = pruneOpts job;
      timerConfig = {
        OnCalendar = cfg.schedule.prune;
        Persistent = true;
      };
    };
  };

  # A backup killed mid-run leaves a lock that restic's check refuses; the
  # check job removes stale locks first (as the module's prune does).
  checkJob = cfg: secretPath: restic: repo: {
    name = "${repo.name}-check";
    value = common secretPath repo // {
      paths = [ ];
      backupPrepareCommand = "${restic} unlock\n";
      runCheck = true;
      checkOpts = [ "--read-data-subset=${cfg.checkSubset}" ];
      timerConfig = {
        OnCalendar = cfg.schedule.check;
        Persistent = true;
      };
    };
  };

  # services.restic.backups: one backup job per repository and tier, a
  # prune-only job per repository and tier, a check-only job per repository.
  backups =
    {
      cfg,
      secretPath,
      zfs,
      restic ? "restic",
    }:
    listToAttrs (
      map (backupJob { inherit cfg secretPath zfs restic; }) cfg.jobs
      ++ map (pruneJob cfg secretPath) cfg.jobs
      ++ map (checkJob cfg secretPath restic) cfg.repositories
    );

  # Maintenance of one repository runs one job at a time (restic's prune
  # and check take an exclusive lock): each prune job waits for the
  # repository's earlier ones, the check for all of them.
  # systemd.services name -> its `after` units.
  order =
    cfg:
    let
      svc = n: "restic-backups-${n}";
      unit = n: "${svc n}.service";
      perRepo =
        repo:
        let
          prunes = map (j: "${j.name}-prune") (filter (j: j.repository == repo.name) cfg.jobs);
          step =
            acc: p:
            {
              before = acc.before ++ [ (unit p) ];
              out = acc.out // {
                ${svc p} = acc.before;
              };
            };
          r = foldl' step {
            before = [ ];
            out = { };
          } prunes;
        in
        r.out // { ${svc "${repo.name}-check"} = r.before; };
    in
    foldl' (a: r: a // perRepo r) { } cfg.repositories;
in
{
  inherit
    backups
    cleanup
    cloneName
    order
    paths
    prepare
    pruneOpts
    sinceFile
    snapshotPath
    stampFile
    staleCheck
    ;
}
