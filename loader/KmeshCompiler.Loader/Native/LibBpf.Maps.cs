using System.Runtime.InteropServices;

namespace KmeshCompiler.Loader.Native;

/// <summary>Map syscalls wrapped by libbpf (bpf.h). libbpf 1.x returns -errno.</summary>
internal static unsafe partial class LibBpf
{
    /// <summary>struct bpf_map_create_opts (48 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 48)]
    internal struct MapCreateOpts
    {
        [FieldOffset(0)] public nuint Sz;
        [FieldOffset(8)] public uint BtfFd;
        [FieldOffset(12)] public uint BtfKeyTypeId;
        [FieldOffset(16)] public uint BtfValueTypeId;
        [FieldOffset(20)] public uint BtfVmlinuxValueTypeId;
        [FieldOffset(24)] public uint InnerMapFd;
        [FieldOffset(28)] public uint MapFlags;
        [FieldOffset(32)] public ulong MapExtra;
        [FieldOffset(40)] public uint NumaNode;
        [FieldOffset(44)] public uint MapIfindex;
    }

    /// <summary>struct bpf_map_batch_opts (24 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 24)]
    internal struct MapBatchOpts
    {
        [FieldOffset(0)] public nuint Sz;
        [FieldOffset(8)] public ulong ElemFlags;
        [FieldOffset(16)] public ulong Flags;
    }

    [LibraryImport(Lib, EntryPoint = "bpf_map_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MapCreate(int type, string? name, uint keySize, uint valueSize, uint maxEntries, MapCreateOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_map_update_elem", SetLastError = true)]
    internal static partial int MapUpdateElem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Lib, EntryPoint = "bpf_map_lookup_elem", SetLastError = true)]
    internal static partial int MapLookupElem(int fd, void* key, void* value);

    [LibraryImport(Lib, EntryPoint = "bpf_map_delete_elem", SetLastError = true)]
    internal static partial int MapDeleteElem(int fd, void* key);

    [LibraryImport(Lib, EntryPoint = "bpf_map_get_next_key", SetLastError = true)]
    internal static partial int MapGetNextKey(int fd, void* key, void* nextKey);

    [LibraryImport(Lib, EntryPoint = "bpf_map_update_batch", SetLastError = true)]
    internal static partial int MapUpdateBatch(int fd, void* keys, void* values, uint* count, MapBatchOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_map_lookup_batch", SetLastError = true)]
    internal static partial int MapLookupBatch(int fd, void* inBatch, void* outBatch, void* keys, void* values, uint* count, MapBatchOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_map_delete_batch", SetLastError = true)]
    internal static partial int MapDeleteBatch(int fd, void* keys, uint* count, MapBatchOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_obj_pin", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ObjPin(int fd, string path);

    [LibraryImport(Lib, EntryPoint = "bpf_obj_get", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ObjGet(string path);

    [LibraryImport(Lib, EntryPoint = "bpf_obj_get_info_by_fd", SetLastError = true)]
    internal static partial int ObjGetInfoByFd(int fd, void* info, uint* infoLen);
}
