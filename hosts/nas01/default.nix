# Your own configuration of `nas01`: hardware, file systems, anything
# hearth does not manage. hearth wrote this file once and never touches it
# again; its generated settings are in ./hearth.nix.
{ lib, ... }:
{
  networking.hostName = "nas01";

  # Replace these with the host's hardware configuration, e.g.
  # imports = [ ./hardware-configuration.nix ];
  boot.loader.grub.devices = lib.mkDefault [ "nodev" ];
  fileSystems."/" = lib.mkDefault {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
  };

  nixpkgs.hostPlatform = lib.mkDefault "x86_64-linux";
  services.openssh.enable = true;
  system.stateVersion = "26.05";
}
