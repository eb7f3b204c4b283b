/** The seed example of compat.md §2. */
export const SEED = `# comment lines and blank lines are ignored
device_api=vfio-pci
device_type=pci
device_id=8086591d
mdev_type=i915-GVTg_V5_2
aggregator=1
pv_mode="none+ppgtt+context"
interface_version=3
COMPATIBLE:
device_type=pci
device_id=8086591d
mdev_type=i915-GVTg_V5_{val1:int:1,2,4,8}
aggregator={val1}/2
pv_mode={val2:string:"none+ppgtt","none+context","none+ppgtt+context"}
interface_version={val3:int:2,3}
`;

/** A source the seed accepts (compat.md §2's example, val1=4 val2=none+ppgtt val3=3). */
export const SEED_SOURCE: Readonly<Record<string, string>> = {
  device_api: "vfio-pci",
  device_type: "pci",
  device_id: "8086591d",
  mdev_type: "i915-GVTg_V5_4",
  aggregator: "2",
  pv_mode: "none+ppgtt",
  interface_version: "3",
};
