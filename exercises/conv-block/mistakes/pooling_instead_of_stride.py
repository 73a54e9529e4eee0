# Max pooling after conv1 and after W_s instead of strided convolutions (floor, not ceil, on odd sizes).
class ConvBlock(ConvBlock):
    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__(in_channels, out_channels, 1)
        self.pool = nn.MaxPool2d(stride)

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.pool(self.conv1(x))))))
        return F.relu(out + self.shortcut_bn(self.pool(self.shortcut_conv(x))))
