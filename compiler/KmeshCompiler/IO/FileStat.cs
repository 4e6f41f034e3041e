using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KmeshCompiler.IO;

/// <summary>What a path names, as stat(2) says: the BCL does not tell a FIFO, a device or a socket
/// from a regular file, and reading or renaming over one is what the input and output policies
/// (docs/files.md) refuse.</summary>
public enum FileKind { Missing, Regular, Directory, Fifo, CharDevice, BlockDevice, Socket, Symlink, Other }

/// <summary>The type, size and identity (device, inode) of a file.</summary>
public readonly partial record struct FileStat(FileKind Kind, long Size, ulong Device, ulong Inode)
{
    public bool IsRegular => Kind == FileKind.Regular;

    /// <summary>Two paths naming the same file (hard links, different spellings, symbolic links).</summary>
    public bool SameFileAs(FileStat other) => Kind != FileKind.Missing && other.Kind != FileKind.Missing && Device == other.Device && Inode == other.Inode;

    /// <summary>"a FIFO", "a directory", ...: for messages.</summary>
    public static string Describe(FileKind k) => k switch
    {
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.Fifo => "a FIFO",
        FileKind.CharDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        FileKind.Symlink => "a symbolic link",
        FileKind.Missing => "missing",
        _ => "not a regular file",
    };

    private static readonly FileStat Missing = new(FileKind.Missing, 0, 0, 0);

    /// <summary>stat (or lstat when <paramref name="followLinks"/> is false) of a path. A path that
    /// does not exist is <see cref="FileKind.Missing"/>; any other failure (permissions on a parent,
    /// a name too long) throws <see cref="IOException"/> with the system's reason.</summary>
    public static FileStat Of(string path, bool followLinks = true)
    {
        if (path.Length == 0) return Missing;
        if (!OperatingSystem.IsLinux()) return Portable(path);
        var buf = new byte[StatxSize];
        int rc = Native.statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxBasicStats, buf);
        if (rc != 0) return Failure(path, Marshal.GetLastPInvokeError());
        return Decode(buf);
    }

    /// <summary>fstat of an open file: what was opened, whatever the path names by now.</summary>
    public static FileStat Of(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux()) return new(FileKind.Regular, RandomAccess.GetLength(handle), 0, 0);
        var buf = new byte[StatxSize];
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            int rc = Native.statx((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxBasicStats, buf);
            if (rc != 0) throw new IOException($"cannot stat an open file: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            return Decode(buf);
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private static FileStat Failure(string path, int errno)
    {
        if (errno is ENOENT or ENOTDIR) return Missing;
        throw new IOException($"cannot stat '{path}': {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    // struct statx (include/uapi/linux/stat.h) is the same on every architecture.
    private const int StatxSize = 256;
    private const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100, AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const int ENOENT = 2, ENOTDIR = 20;

    private static FileStat Decode(ReadOnlySpan<byte> b)
    {
        uint mode = BitConverter.ToUInt16(b[28..]);
        ulong ino = BitConverter.ToUInt64(b[32..]);
        long size = (long)BitConverter.ToUInt64(b[40..]);
        ulong dev = ((ulong)BitConverter.ToUInt32(b[136..]) << 32) | BitConverter.ToUInt32(b[140..]);
        var kind = (mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x1000 => FileKind.Fifo,
            0x2000 => FileKind.CharDevice,
            0x6000 => FileKind.BlockDevice,
            0xC000 => FileKind.Socket,
            0xA000 => FileKind.Symlink,
            _ => FileKind.Other,
        };
        return new(kind, size, dev, ino);
    }

    private static FileStat Portable(string path)
    {
        if (Directory.Exists(path)) return new(FileKind.Directory, 0, 0, 0);
        var f = new FileInfo(path);
        return f.Exists ? new(FileKind.Regular, f.Length, 0, 0) : Missing;
    }

    private static partial class Native
    {
        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int statx(int dirfd, string pathname, int flags, uint mask, byte[] buf);
    }
}
