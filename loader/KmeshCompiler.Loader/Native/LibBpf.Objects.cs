using System.Runtime.InteropServices;

namespace KmeshCompiler.Loader.Native;

/// <summary>libbpf's object, program and map-definition API (libbpf.h).</summary>
internal static unsafe partial class LibBpf
{
    internal const string Lib = "libbpf.so.1";

    /// <summary>struct bpf_object_open_opts, libbpf 1.1 (80 bytes on 64-bit).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 80)]
    internal struct ObjectOpenOpts
    {
        [FieldOffset(0)] public nuint Sz;
        [FieldOffset(8)] public byte* ObjectName;
        [FieldOffset(16)] public byte RelaxedMaps;
        [FieldOffset(24)] public byte* PinRootPath;
        [FieldOffset(40)] public byte* Kconfig;
        [FieldOffset(48)] public byte* BtfCustomPath;
        [FieldOffset(56)] public byte* KernelLogBuf;
        [FieldOffset(64)] public nuint KernelLogSize;
        [FieldOffset(72)] public uint KernelLogLevel;
    }

    [LibraryImport(Lib, EntryPoint = "bpf_object__open_file", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint ObjectOpenFile(string path, ObjectOpenOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_object__load", SetLastError = true)]
    internal static partial int ObjectLoad(nint obj);

    [LibraryImport(Lib, EntryPoint = "bpf_object__close")]
    internal static partial void ObjectClose(nint obj);

    [LibraryImport(Lib, EntryPoint = "bpf_object__next_program")]
    internal static partial nint ObjectNextProgram(nint obj, nint prev);

    [LibraryImport(Lib, EntryPoint = "bpf_object__next_map")]
    internal static partial nint ObjectNextMap(nint obj, nint prev);

    [LibraryImport(Lib, EntryPoint = "bpf_program__name")]
    internal static partial byte* ProgramName(nint prog);

    [LibraryImport(Lib, EntryPoint = "bpf_program__section_name")]
    internal static partial byte* ProgramSectionName(nint prog);

    [LibraryImport(Lib, EntryPoint = "bpf_program__fd")]
    internal static partial int ProgramFd(nint prog);

    [LibraryImport(Lib, EntryPoint = "bpf_program__set_autoload")]
    internal static partial int ProgramSetAutoload(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(Lib, EntryPoint = "bpf_map__name")]
    internal static partial byte* MapName(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_map__fd")]
    internal static partial int MapFd(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_map__type")]
    internal static partial int MapType(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_map__key_size")]
    internal static partial uint MapKeySize(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_map__value_size")]
    internal static partial uint MapValueSize(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_map__max_entries")]
    internal static partial uint MapMaxEntries(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_map__set_max_entries")]
    internal static partial int MapSetMaxEntries(nint map, uint maxEntries);

    [LibraryImport(Lib, EntryPoint = "bpf_map__reuse_fd")]
    internal static partial int MapReuseFd(nint map, int fd);

    [LibraryImport(Lib, EntryPoint = "bpf_map__set_pin_path", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MapSetPinPath(nint map, string? path);

    [LibraryImport(Lib, EntryPoint = "libbpf_num_possible_cpus")]
    internal static partial int NumPossibleCpus();

    internal static string? Str(byte* p) => p == null ? null : Marshal.PtrToStringUTF8((nint)p);
}
