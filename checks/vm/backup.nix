# VM test of modules/backup.nix: nas backs up tank/shelf (a tier with
# backup = true) from a snapshot clone to a restic REST server on offsite;
# tank/garage (not backed up) never reaches the repository. Then: change and
# delete live files, restore into an empty directory and compare every
# file's checksum with the snapshot; SIGKILL a running backup, after which
# the check job passes (stale lock removed) and the next run succeeds; no
# snapshot or clone is left behind; the stale check fails for a stamp older
# than 48 h; every unit reports failures to hearth-notify@.
#
#   nas 192.168.1.1 -- offsite 192.168.1.2   vlan 1
{ lib, ... }:
let
  inherit (import ./lib.nix { inherit lib; }) address secret;
  job = {
    name = "offsite-shelf";
    repository = "offsite";
    url = "rest:http://192.168.1.2:8000/";
    passwordSecret = "hearth-restic-offsite";
    environmentSecret = null;
    tier = "shelf";
    snapshot = "hearth-backup-offsite-shelf";
    datasets = [
      {
        name = "tank/shelf";
        mountpoint = "/share/shelf";
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
in
{
  name = "hearth-backup";

  defaults.imports = [ ./common.nix ];

  nodes = {
    offsite =
      { pkgs, ... }:
      {
        imports = [ (address "eth1" "192.168.1.2") ];
        virtualisation.vlans = [ 1 ];
        services.restic.server = {
          enable = true;
          listenAddress = "8000";
          extraFlags = [ "--no-auth" ];
        };
        networking.firewall.allowedTCPPorts = [ 8000 ];
      };
    nas =
      { pkgs, ... }:
      {
        imports = [ (address "eth1" "192.168.1.1") ];
        virtualisation.vlans = [ 1 ];
        virtualisation.emptyDiskImages = [ 512 ];
        boot.supportedFilesystems = [ "zfs" ];
        networking.hostId = "be1e2f86";
        environment.systemPackages = [ pkgs.restic ];
        age.secrets.hearth-restic-offsite = secret ./test-keys/restic-password-TEST-ONLY.age;
        hearth.backup = {
          enable = true;
          schedule = {
            backup = "*-*-* 01:00:00";
            randomizedDelay = "0";
            prune = "Sun *-*-* 05:00:00";
            check = "*-*-01 06:00:00";
          };
          checkSubset = "100%";
          staleAfterHours = 48;
          stateDir = "/var/lib/hearth/backup";
          mountRoot = "/run/hearth-backup";
          jobs = [ job ];
          repositories = [
            {
              name = "offsite";
              url = "rest:http://192.168.1.2:8000/";
              passwordSecret = "hearth-restic-offsite";
              environmentSecret = null;
            }
          ];
        };
      };
  };

  testScript = ''
    start_all()
    offsite.wait_for_unit("restic-rest-server.socket")
    nas.wait_for_unit("multi-user.target")

    # The pool of the storage tiers: shelf (backed up) and garage (not).
    nas.succeed("zpool create -f -O mountpoint=none tank /dev/vdb")
    nas.succeed("zfs create -o mountpoint=/share/shelf tank/shelf")
    nas.succeed("zfs create -o mountpoint=/share/garage tank/garage")
    nas.succeed("mkdir -p /share/shelf/docs && for i in 1 2 3 4 5; do head -c 100000 /dev/urandom > /share/shelf/docs/f$i; done")
    nas.succeed("echo garage > /share/garage/only-here")

    env = "RESTIC_REPOSITORY=rest:http://192.168.1.2:8000/ RESTIC_PASSWORD_FILE=/run/agenix/hearth-restic-offsite"

    # Every unit reports failure to the notification template.
    for unit in ["restic-backups-offsite-shelf", "restic-backups-offsite-shelf-prune", "restic-backups-offsite-check", "hearth-backup-stale-offsite-shelf"]:
        nas.succeed(f"systemctl show -p OnFailure {unit} | grep -F 'hearth-notify@{unit}.service'")

    # A backup, as the timer would start it: initializes the repository.
    nas.succeed("sha256sum /share/shelf/docs/* | sed 's|/share/shelf/||' | sort > /root/snapshot.sums")
    nas.systemctl("start restic-backups-offsite-shelf.service")
    nas.wait_until_succeeds("systemctl show -p Result restic-backups-offsite-shelf | grep -q success")
    nas.succeed("test -e /var/lib/hearth/backup/offsite-shelf.ok")
    # Snapshot and clone released; the repository holds the clone's paths, not garage.
    nas.fail("zfs list -H -t all -o name | grep hearth-backup")
    nas.succeed(f"{env} restic ls latest | grep -F /run/hearth-backup/offsite-shelf/tank/shelf/docs/f1")
    nas.fail(f"{env} restic ls latest | grep -F only-here")

    # Change and delete live files; the restore equals the snapshot.
    nas.succeed("rm /share/shelf/docs/f1 && echo changed > /share/shelf/docs/f2")
    nas.succeed(f"{env} restic restore latest --target /root/restore")
    nas.succeed("cd /root/restore/run/hearth-backup/offsite-shelf/tank/shelf && sha256sum docs/* | sort | diff - /root/snapshot.sums")

    # SIGKILL during a backup: the check job removes the stale lock and passes,
    # the next run succeeds, nothing is left behind.
    nas.succeed("head -c 300000000 /dev/urandom > /share/shelf/big")
    nas.succeed("systemctl start --no-block restic-backups-offsite-shelf.service")
    nas.wait_until_succeeds("pgrep -x restic")
    nas.succeed("sleep 2; systemctl kill -s KILL restic-backups-offsite-shelf.service")
    nas.wait_until_succeeds("systemctl show -p ActiveState restic-backups-offsite-shelf | grep -Eq 'inactive|failed'")
    nas.systemctl("start restic-backups-offsite-check.service")
    nas.succeed("systemctl show -p Result restic-backups-offsite-check | grep -q success")
    nas.systemctl("start restic-backups-offsite-shelf.service")
    nas.succeed("systemctl show -p Result restic-backups-offsite-shelf | grep -q success")
    nas.fail("zfs list -H -t all -o name | grep hearth-backup")
    nas.systemctl("start restic-backups-offsite-shelf-prune.service")
    nas.succeed("systemctl show -p Result restic-backups-offsite-shelf-prune | grep -q success")

    # The stale check: fine after a run, failed when the last success is 3 days old.
    nas.systemctl("start hearth-backup-stale-offsite-shelf.service")
    nas.succeed("systemctl show -p Result hearth-backup-stale-offsite-shelf | grep -q success")
    nas.succeed("touch -d '3 days ago' /var/lib/hearth/backup/offsite-shelf.ok /var/lib/hearth/backup/offsite-shelf.since")
    nas.fail("systemctl start hearth-backup-stale-offsite-shelf.service")

    # The password never reaches the store.
    nas.fail("grep -r TEST-ONLY-restic-password /nix/store --include='*' -l 2>/dev/null | head -1 | grep .")
  '';
}
