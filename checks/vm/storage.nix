# VM test of modules/storage.nix and modules/notify.nix: a mirror pool on two
# empty disk images, the datasets created with their properties by
# hearth-storage-create, sanoid taking the tiers' snapshots, a scrub that
# repairs a block corrupted on one side of the mirror, a property changed by
# hand reported (not reverted), and a failed unit reaching hearth-notify (a
# command that writes a file).
{ lib, ... }:
let
  tier = daily: {
    frequent = 0;
    hourly = 2;
    inherit daily;
    weekly = 0;
    monthly = 0;
    yearly = 0;
    backup = daily > 7;
    replicateTo = [ ];
  };
in
{
  name = "hearth-storage";

  defaults.imports = [ ./common.nix ];

  nodes.nas = {
    virtualisation.emptyDiskImages = [
      512
      512
    ];
    hearth.notify = {
      enable = true;
      kind = "command";
      target = "cat > /tmp/notified-\"$1\"";
    };
    hearth.storage = {
      enable = true;
      hostId = "be1e2f86";
      pools = [
        {
          name = "tank";
          layout = "mirror";
          disks = [
            "/dev/vdb"
            "/dev/vdc"
          ];
        }
      ];
      scrub = {
        enable = true;
        interval = "weekly";
      };
      tiers = {
        attic = tier 30;
        garage = tier 7;
      };
      datasets = [
        {
          name = "tank/attic";
          pool = "tank";
          tier = "attic";
          mountpoint = "/share/attic";
          properties = {
            compression = "lz4";
            atime = "off";
          };
        }
        {
          name = "tank/garage";
          pool = "tank";
          tier = "garage";
          mountpoint = "/share/garage";
          properties.recordsize = "1M";
        }
      ];
      replication = [ ];
      replicationKeySecret = null;
      receive = [ ];
    };
    # The pool is made by the test script (hearth never creates pools).
    boot.zfs.forceImportRoot = false;
    systemd.services.hearth-storage-create.wantedBy = lib.mkForce [ ];
  };

  testScript = ''
    nas.wait_for_unit("multi-user.target")
    # The admin creates the pool; hearth imports, scrubs and fills it.
    nas.succeed("zpool create -f -o ashift=12 tank mirror /dev/vdb /dev/vdc")
    nas.succeed("systemctl start hearth-storage-create.service")
    nas.succeed("test \"$(zfs get -H -o value compression tank/attic)\" = lz4")
    nas.succeed("test \"$(zfs get -H -o value recordsize tank/garage)\" = 1M")
    nas.succeed("test \"$(zfs get -H -o value mountpoint tank/attic)\" = /share/attic")

    # A second run creates nothing; a property changed by hand is reported
    # (the unit fails, hearth-notify@ runs) and left as it is.
    nas.succeed("systemctl restart hearth-storage-create.service")
    nas.succeed("zfs set atime=on tank/attic")
    nas.fail("systemctl restart hearth-storage-create.service")
    nas.succeed("journalctl -u hearth-storage-create | grep 'tank/attic: atime is on, the inventory says off (not changed)'")
    nas.succeed("test \"$(zfs get -H -o value atime tank/attic)\" = on")
    nas.wait_until_succeeds("ls /tmp/notified-* | grep hearth-storage-create")
    nas.succeed("zfs set atime=off tank/attic")

    # sanoid takes each tier's snapshots with the rendered template.
    nas.succeed("systemctl start sanoid.service")
    nas.succeed("zfs list -H -t snapshot -o name | grep '^tank/attic@autosnap_.*_daily$'")
    nas.succeed("zfs list -H -t snapshot -o name | grep '^tank/garage@autosnap_.*_daily$'")
    nas.succeed("grep -x 'use_template=attic' /etc/sanoid/sanoid.conf")

    # Bit-rot: overwrite part of one side of the mirror, scrub, no data lost.
    nas.succeed("dd if=/dev/urandom of=/share/attic/data bs=1M count=64 && sync && sha256sum /share/attic/data > /root/sum")
    nas.succeed("zpool export tank && dd if=/dev/urandom of=/dev/vdb bs=1M seek=8 count=96 conv=notrunc && zpool import tank")
    nas.succeed("systemctl start zfs-scrub.service")
    nas.wait_until_succeeds("zpool status tank | grep -E 'scrub repaired [1-9]'")
    nas.succeed("zpool status -x tank | grep -E 'errors: No known data errors|is healthy'")
    nas.succeed("sha256sum -c /root/sum")
  '';
}
