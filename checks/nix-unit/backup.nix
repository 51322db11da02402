# Renderer tests for modules/lib/backup.nix: exact services.restic.backups
# entries, the snapshot scripts, the stale check, the maintenance order and
# every throw.
let
  lib = import ../../modules/lib;
  b = lib.backup;
  job = {
    name = "offsite-bulk";
    repository = "offsite";
    url = "b2:hearth-nas01:restic";
    passwordSecret = "hearth-restic-offsite";
    environmentSecret = "restic-b2-env";
    tier = "bulk";
    snapshot = "hearth-backup-offsite-bulk";
    datasets = [
      {
        name = "tank/media";
        mountpoint = "/tank/media";
      }
      {
        name = "tank/it's";
        mountpoint = "/tank/its";
      }
    ];
    retention = {
      last = 0;
      hourly = 0;
      daily = 7;
      weekly = 4;
      monthly = 12;
      yearly = 2;
    };
  };
  job2 = job // {
    name = "offsite-important";
    tier = "important";
    snapshot = "hearth-backup-offsite-important";
    datasets = [
      {
        name = "tank/photos";
        mountpoint = "/tank/photos";
      }
    ];
    retention = job.retention // {
      last = 3;
    };
  };
  cfg = {
    enable = true;
    schedule = {
      backup = "*-*-* 01:00:00";
      randomizedDelay = "1h";
      prune = "Sun *-*-* 05:00:00";
      check = "*-*-01 06:00:00";
    };
    checkSubset = "5%";
    staleAfterHours = 48;
    stateDir = "/var/lib/hearth/backup";
    mountRoot = "/run/hearth-backup";
    jobs = [
      job
      job2
    ];
    repositories = [
      {
        name = "offsite";
        url = "b2:hearth-nas01:restic";
        passwordSecret = "hearth-restic-offsite";
        environmentSecret = "restic-b2-env";
      }
    ];
  };
  secretPath = n: "/run/agenix/${n}";
  all = b.backups {
    inherit cfg secretPath;
    zfs = "/bin/zfs";
    restic = "/bin/restic";
  };
in
[
  {
    name = "one backup and one prune job per repository and tier, one check per repository";
    expr = builtins.attrNames all;
    expected = [
      "offsite-bulk"
      "offsite-bulk-prune"
      "offsite-check"
      "offsite-important"
      "offsite-important-prune"
    ];
  }
  {
    name = "backup job: reads the snapshot, credentials from agenix paths, no prune";
    expr = all.offsite-bulk;
    expected = {
      repository = "b2:hearth-nas01:restic";
      passwordFile = "/run/agenix/hearth-restic-offsite";
      environmentFile = "/run/agenix/restic-b2-env";
      initialize = true;
      paths = [
        "/run/hearth-backup/offsite-bulk/tank/media"
        "/run/hearth-backup/offsite-bulk/tank/it's"
      ];
      extraBackupArgs = [ "--tag hearth-tier-bulk" ];
      pruneOpts = [ ];
      timerConfig = {
        OnCalendar = "*-*-* 01:00:00";
        RandomizedDelaySec = "1h";
        Persistent = true;
      };
      backupPrepareCommand = ''
        set -eu
        if /bin/restic cat config >/dev/null 2>&1; then /bin/restic unlock; fi
        /bin/zfs destroy -f 'tank/hearth-backup-offsite-bulk-tank-media' 2>/dev/null || true
        /bin/zfs destroy 'tank/media@hearth-backup-offsite-bulk' 2>/dev/null || true
        /bin/zfs snapshot 'tank/media@hearth-backup-offsite-bulk'
        /bin/zfs clone -o readonly=on -o mountpoint='/run/hearth-backup/offsite-bulk/tank/media' 'tank/media@hearth-backup-offsite-bulk' 'tank/hearth-backup-offsite-bulk-tank-media'
        /bin/zfs destroy -f 'tank/hearth-backup-offsite-bulk-tank-it'\'''s' 2>/dev/null || true
        /bin/zfs destroy 'tank/it'\'''s@hearth-backup-offsite-bulk' 2>/dev/null || true
        /bin/zfs snapshot 'tank/it'\'''s@hearth-backup-offsite-bulk'
        /bin/zfs clone -o readonly=on -o mountpoint='/run/hearth-backup/offsite-bulk/tank/it'\'''s' 'tank/it'\'''s@hearth-backup-offsite-bulk' 'tank/hearth-backup-offsite-bulk-tank-it'\'''s'
      '';
      backupCleanupCommand = ''
        rc=0
        release() { n=0; until /bin/zfs destroy "$@"; do n=$((n + 1)); if [ $n -ge 10 ]; then return 1; fi; sleep 1; done; }
        release -f 'tank/hearth-backup-offsite-bulk-tank-media' || rc=1
        release 'tank/media@hearth-backup-offsite-bulk' || rc=1
        release -f 'tank/hearth-backup-offsite-bulk-tank-it'\'''s' || rc=1
        release 'tank/it'\'''s@hearth-backup-offsite-bulk' || rc=1
        exit $rc
      '';
    };
  }
  {
    name = "prune job: prune-only (no paths), the tier's retention on the tier's snapshots";
    expr = all.offsite-important-prune;
    expected = {
      repository = "b2:hearth-nas01:restic";
      passwordFile = "/run/agenix/hearth-restic-offsite";
      environmentFile = "/run/agenix/restic-b2-env";
      paths = [ ];
      pruneOpts = [
        "--tag hearth-tier-important"
        "--group-by host,tags"
        "--keep-last 3"
        "--keep-daily 7"
        "--keep-weekly 4"
        "--keep-monthly 12"
        "--keep-yearly 2"
        "--repack-cacheable-only"
      ];
      timerConfig = {
        OnCalendar = "Sun *-*-* 05:00:00";
        Persistent = true;
      };
    };
  }
  {
    name = "check job: stale locks removed first, read-data-subset, its own schedule; no environment file without credentials";
    expr = (b.backups {
      cfg = cfg // {
        repositories = [ ((builtins.head cfg.repositories) // { environmentSecret = null; }) ];
      };
      inherit secretPath;
      zfs = "zfs";
    }).offsite-check;
    expected = {
      repository = "b2:hearth-nas01:restic";
      passwordFile = "/run/agenix/hearth-restic-offsite";
      environmentFile = null;
      paths = [ ];
      backupPrepareCommand = "restic unlock\n";
      runCheck = true;
      checkOpts = [ "--read-data-subset=5%" ];
      timerConfig = {
        OnCalendar = "*-*-01 06:00:00";
        Persistent = true;
      };
    };
  }
  {
    name = "maintenance order: prunes one after another, then the check";
    expr = b.order cfg;
    expected = {
      "restic-backups-offsite-bulk-prune" = [ ];
      "restic-backups-offsite-important-prune" = [ "restic-backups-offsite-bulk-prune.service" ];
      "restic-backups-offsite-check" = [
        "restic-backups-offsite-bulk-prune.service"
        "restic-backups-offsite-important-prune.service"
      ];
    };
  }
  {
    name = "stale check script";
    expr = b.staleCheck {
      inherit cfg job;
      stat = "/bin/stat";
      date = "/bin/date";
    };
    expected = ''
      set -u
      last=0
      for f in '/var/lib/hearth/backup/offsite-bulk.ok' '/var/lib/hearth/backup/offsite-bulk.since'; do
        if [ -e "$f" ]; then
          t=$(/bin/stat -c %Y "$f")
          if [ "$t" -gt "$last" ]; then last=$t; fi
        fi
      done
      now=$(/bin/date +%s)
      hours=$(( (now - last) / 3600 ))
      if [ "$hours" -ge 48 ]; then
        echo "backup offsite-bulk: no successful run for $hours h (limit 48 h)" >&2
        exit 1
      fi
      echo "backup offsite-bulk: last success $hours h ago"
    '';
  }
  {
    name = "stamp and since files";
    expr = [
      (b.stampFile cfg job)
      (b.sinceFile cfg job)
    ];
    expected = [
      "/var/lib/hearth/backup/offsite-bulk.ok"
      "/var/lib/hearth/backup/offsite-bulk.since"
    ];
  }
  {
    name = "throws: a retention that keeps nothing";
    throws = b.pruneOpts (job // { retention = job.retention // { daily = 0; weekly = 0; monthly = 0; yearly = 0; }; });
    message = "job offsite-bulk: the retention keeps nothing";
  }
  {
    name = "throws: a job without datasets";
    throws = b.paths cfg (job // { datasets = [ ]; });
    message = "job offsite-bulk has no dataset";
  }
  {
    name = "throws: a job naming a repository the host does not have";
    throws = (b.backups {
      cfg = cfg // { jobs = [ (job // { repository = "elsewhere"; }) ]; };
      inherit secretPath;
      zfs = "zfs";
    }).offsite-bulk;
    message = "no repository elsewhere";
  }
  {
    name = "throws: staleAfterHours 0";
    throws = b.staleCheck {
      cfg = cfg // { staleAfterHours = 0; };
      inherit job;
    };
    message = "staleAfterHours must be at least 1";
  }
]
