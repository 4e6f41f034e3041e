using System.CommandLine;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc inspect IMAGE</c>: the text rendering of an image, after checking its header,
/// content hash and table layout.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var image = new Argument<string>("IMAGE") { Description = "An image written by kmeshc compile." };
        var cmd = new Command("inspect", "Print the text rendering of a map image.") { image };
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            string path = parse.GetValue(image)!;
            byte[] data;
            try
            {
                var info = new FileInfo(path);
                if (!info.Exists) { io.Err.WriteLine(Codes.PathNotFound.Create(new(path, 0, 0), path).ToString()); return Cli.Usage; }
                if (info.Length > ImageReader.MaxImageBytes) { io.Err.WriteLine(Codes.InputTooLarge.Create(new(path, 0, 0), path, info.Length, ImageReader.MaxImageBytes).ToString()); return Cli.Failed; }
                data = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                io.Err.WriteLine(Codes.PathNotFound.Create(new(path, 0, 0), path).ToString() + $" ({e.Message})");
                return Cli.Usage;
            }
            var bag = new DiagnosticBag();
            var file = ImageReader.Read(path, data, bag);
            foreach (var d in bag.Sorted()) io.Err.WriteLine(d.ToString());
            if (file is null) return Cli.Failed;
            io.Out.Write(ImageText.Render(file));
            return Cli.Ok;
        });
        return cmd;
    }
}
