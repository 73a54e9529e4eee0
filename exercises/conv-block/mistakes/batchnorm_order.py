# Batch norm after the ReLU on the main path: conv -> ReLU -> BN.
class ConvBlock(ConvBlock):
    def forward(self, x):
        out = self.bn2(self.conv2(self.bn1(F.relu(self.conv1(x)))))
        return F.relu(out + self.shortcut_bn(self.shortcut_conv(x)))
