namespace KmeshCompiler.Loader;

/// <summary>enum bpf_prog_type (subset).</summary>
public enum BpfProgramType
{
    Unspec = 0, SocketFilter = 1, Kprobe = 2, SchedCls = 3, SchedAct = 4, Tracepoint = 5, Xdp = 6,
    CgroupSkb = 8, CgroupSock = 9, SockOps = 13, CgroupSockAddr = 18,
}

/// <summary>enum bpf_attach_type (subset).</summary>
public enum BpfAttachType
{
    CgroupInetIngress = 0, CgroupInetEgress = 1, CgroupInetSockCreate = 2, CgroupSockOps = 3,
    CgroupInet4Bind = 8, CgroupInet6Bind = 9, CgroupInet4Connect = 10, CgroupInet6Connect = 11, Xdp = 37,
}

/// <summary>Flags of a map update: BPF_ANY, BPF_NOEXIST, BPF_EXIST.</summary>
public enum MapUpdate : ulong { Any = 0, NoExist = 1, Exist = 2 }

/// <summary>Map creation flags (BPF_F_*).</summary>
[Flags]
public enum MapFlags : uint { None = 0, NoPrealloc = 1, NoCommonLru = 2, NumaNode = 4, RdOnly = 8, WrOnly = 16, RdOnlyProg = 128, WrOnlyProg = 256 }

/// <summary>How XDP is attached: the driver's native hook, or the generic (skb) one every device has.</summary>
public enum XdpMode : uint { Default = 0, Generic = 2, Native = 4, Offload = 8 }

/// <summary>Cgroup attach flags: none (exclusive), BPF_F_ALLOW_OVERRIDE or BPF_F_ALLOW_MULTI.</summary>
public enum CgroupAttachFlags : uint { None = 0, AllowOverride = 1, AllowMulti = 2 }

/// <summary>XDP return codes.</summary>
public enum XdpAction : uint { Aborted = 0, Drop = 1, Pass = 2, Tx = 3, Redirect = 4 }
